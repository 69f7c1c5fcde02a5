"""Stratus: serverless trading execution, from signal to risk-checked exchange order."""

import os

# Stratus uses no pydantic plugins, and looking for them reads the metadata of every
# installed distribution when the first model is built: ~35 ms of each cold start.
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
