package tls

type Config struct{}
