"""Stubs for the three worker services, over channels that carry the auth token."""

from __future__ import annotations

from dataclasses import dataclass

import grpc

from genleak.rpc.channels import open_channel
from genleak.v1 import attacker_pb2_grpc, finetuner_pb2_grpc, generator_pb2_grpc


@dataclass
class ServiceClients:
    generator: generator_pb2_grpc.GeneratorServiceStub
    finetuner: finetuner_pb2_grpc.FinetunerServiceStub
    attacker: attacker_pb2_grpc.AttackerServiceStub
    channels: tuple[grpc.Channel, ...]

    @classmethod
    def connect(cls, generator_addr: str, finetuner_addr: str, attacker_addr: str, token: str = "", *,
                tls=None, lb_policy: str = "") -> "ServiceClients":
        gen, ft, att = (open_channel(a, token, tls=tls, lb_policy=lb_policy)
                        for a in (generator_addr, finetuner_addr, attacker_addr))
        return cls(
            generator=generator_pb2_grpc.GeneratorServiceStub(gen),
            finetuner=finetuner_pb2_grpc.FinetunerServiceStub(ft),
            attacker=attacker_pb2_grpc.AttackerServiceStub(att),
            channels=(gen, ft, att),
        )

    def close(self) -> None:
        for channel in self.channels:
            channel.close()
