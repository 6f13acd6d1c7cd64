"""Call the attacker on its own: score a few texts with membership-inference attacks (a synchronous call).

    python examples/clients/attacker_client.py MODEL TEXT [TEXT ...] [--address HOST:PORT]

MODEL: a store URI, hf://org/name, zoo:NAME or a model folder on the server. Higher scores mean "more likely
in the model's training data". The address defaults to $GENLEAK_ATTACKER_ADDR, then 127.0.0.1:50053; the
token and TLS come from the environment as for every genleak client (GENLEAK_AUTH_TOKEN, GENLEAK_TLS_*).
"""

import argparse

from genleak.core.settings import Settings
from genleak.rpc.channels import open_channel
from genleak.v1 import attacker_pb2, attacker_pb2_grpc, common_pb2

parser = argparse.ArgumentParser(description="Score texts with membership-inference attacks on the attacker.")
parser.add_argument("model")
parser.add_argument("texts", nargs="+")
parser.add_argument("--address")
args = parser.parse_args()
settings = Settings.from_env()
address = args.address or settings.attacker_addr or "127.0.0.1:50053"

with open_channel(address, settings.auth_token, tls=settings.tls) as channel:
    stub = attacker_pb2_grpc.AttackerServiceStub(channel)
    request = attacker_pb2.ScoreTextsRequest(model=common_pb2.ModelRef(uri=args.model), texts=args.texts)
    # The params Struct: `genleak schema score_texts` prints every key it takes.
    request.params.update({"attacks": [{"name": "loss"}, {"name": "zlib"}, {"name": "min_k", "config": {"k": 0.2}}],
                           "max_tokens": 256})
    response = stub.ScoreTexts(request, timeout=600)
    for text, scored in zip(args.texts, response.texts):
        scores = "  ".join(f"{name} {value:.3f}" for name, value in sorted(scored.scores.items()))
        print(f"{text[:40]!r:44} {scored.n_tokens:4d} tokens  {scores}")
