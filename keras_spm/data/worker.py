"""Entry point of a simulation worker process: ``python -m keras_spm.data.worker`` (see samples.WorkerPool)."""

from .samples import worker_main

if __name__ == "__main__":
    worker_main()
