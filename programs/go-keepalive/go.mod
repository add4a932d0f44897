module tcp-teardown-lab/go-keepalive

go 1.19
