"""The controller: validates an experiment spec and runs it through the services.

Importing it registers the built-in scenarios first (genleak.controller.scenarios): the spec validates
`scenario:` against that registry, and the scenarios import the spec, so the spec cannot import them.
"""

from genleak.controller import scenarios as _scenarios  # noqa: F401  (registers "extraction" and "membership")
