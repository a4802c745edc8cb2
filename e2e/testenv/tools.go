//go:build tools

// Keeps the commands the harness builds in this module's dependency graph.
package tools

import (
	_ "go.etcd.io/etcd/server/v3/etcdmain"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
)
