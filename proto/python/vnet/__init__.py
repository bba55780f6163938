"""vnet's Python client for orchestrators: `vnet.client` wraps the gRPC API, and the
stubs generated from proto/vnet/v1 at build time live in `vnet.v1`."""
