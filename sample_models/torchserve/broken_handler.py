"""TorchServe handler that cannot load: TorchServe reports the exception raised at load time."""


def handle(data, context):
    raise RuntimeError("this sample model is broken on purpose")
