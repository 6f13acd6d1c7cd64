"""Torch-side helpers shared by the lab's pretraining, the finetuner and the MIA scorer.

Submodules may import torch; this package itself imports nothing, so importing it stays cheap.
It must not import genleak.controller (the controller runs without torch).
"""
