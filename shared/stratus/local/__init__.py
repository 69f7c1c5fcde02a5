"""The local stack on Google's official emulators (`stratus up --emulators`)."""
