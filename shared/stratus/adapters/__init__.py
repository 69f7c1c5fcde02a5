"""One module (or small package) per outside system, each implementing a port."""
