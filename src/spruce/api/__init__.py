"""Network servers: REST (and, through the listeners, gRPC) in front of the service layer."""
