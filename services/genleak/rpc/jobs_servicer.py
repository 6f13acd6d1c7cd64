"""GetJob / WatchJob / CancelJob, shared by every service's servicer."""

from __future__ import annotations

import grpc

from genleak.core.jobs import JobManager
from genleak.rpc.convert import job_to_proto


class JobRpcMixin:
    jobs: JobManager

    def GetJob(self, request, context: grpc.ServicerContext):
        return job_to_proto(self.jobs.get(request.job_id))

    def WatchJob(self, request, context: grpc.ServicerContext):
        for snap in self.jobs.watch(request.job_id, alive=context.is_active):
            yield job_to_proto(snap)

    def CancelJob(self, request, context: grpc.ServicerContext):
        return job_to_proto(self.jobs.cancel(request.job_id))
