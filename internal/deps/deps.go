//go:build tools

// Package deps pins the third-party modules the project depends on so that
// `go mod tidy` keeps them while the packages that use them are being built.
package deps

import (
	_ "github.com/apache/rocketmq-client-go/v2"
	_ "github.com/go-logr/logr"
	_ "github.com/onsi/ginkgo/v2"
	_ "github.com/onsi/gomega"
	_ "github.com/spf13/cobra"
	_ "k8s.io/api/apps/v1"
	_ "k8s.io/apimachinery/pkg/apis/meta/v1"
	_ "k8s.io/client-go/kubernetes"
	_ "sigs.k8s.io/controller-runtime"
	_ "sigs.k8s.io/controller-runtime/pkg/envtest"
)
