"""Job contracts: every job's settings and result, defined once.

Each service job (generation, fine-tuning, extraction, membership inference, PII scan) has a
module here holding its *params* (the knobs a caller sets), its *job spec* (params plus the
artifact and model references it reads) and its *result* (what the job's RPC returns). The
services validate requests with them, the controller composes them into its YAML spec and parses
results with them, and the wire carries params and results as `google.protobuf.Struct` (see
docs/architecture.md for why): a new knob is one field in one file here.

This package imports pydantic and genleak.core only: no torch, no gRPC.
"""
