"""The Kubernetes API server machinery of the management API: access control, kubeconfig, discovery, OpenAPI,
object semantics, patches, watch and tables, each in a small module. Nothing here knows the emulator itself."""
