#!/bin/sh
# `genleak ...` inside the images: the package runs from /opt/genleak/services (PYTHONPATH), not installed.
exec python3 -m genleak "$@"
