"""Torch-side helpers shared by the lab's pretraining, the finetuner, the hf engine and the MIA scorer:
batching and padding (`batching`), and where compute runs and the record of what ran where (`device`).

Submodules may import torch (and `device` accelerate); this package itself imports nothing, so importing
it stays cheap. It must not import genleak.controller (the controller runs without torch).
"""
