// Command pause is the pod sandbox's process: it holds the pod's namespaces
// and does nothing until containerd stops it (the role of Kubernetes'
// registry.k8s.io/pause, built here because no image registry is reachable).
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	<-signals
}
