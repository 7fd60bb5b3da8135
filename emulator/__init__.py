"""modelmesh-emulator: KServe ModelMesh's serving contract on one machine, without Kubernetes."""

__version__ = "0.1.0"
__all__ = ["__version__"]
