"""Triton Python-backend model that cannot load: Triton reports the exception from `initialize`."""


class TritonPythonModel:
    def initialize(self, args):
        raise RuntimeError("this sample model is broken on purpose")

    def execute(self, requests):
        return []
