//go:build tools

// Keeps kube-controller-manager in this module's dependency graph.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
)
