// Package manager builds the gorocket operator's controller-runtime manager: the scheme, the
// cache (restricted to the watched namespaces and to objects the operator manages), leader
// election, metrics and health endpoints, and both reconcilers. cmd/operator and the envtest
// suite call the same New, so the tests run the manager that ships.
package manager

import (
	"context"
	"fmt"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/gorocket/gorocket/api/v1alpha1"
	"github.com/gorocket/gorocket/controllers"
	"github.com/gorocket/gorocket/internal/operator/metadata"
	"github.com/gorocket/gorocket/internal/operator/resource"
)

// Version is the operator's version; the default images carry it as their tag. Set at build
// time with -ldflags "-X github.com/gorocket/gorocket/internal/operator/manager.Version=...".
var Version = "0.1.0"

// Default image repositories; the tag is Version.
const (
	DefaultNameServerRepository = "gorocket/gorocket-namesrv"
	DefaultBrokerRepository     = "gorocket/gorocket-broker"
)

// Options configure the manager. The zero value is usable except for the images, which
// DefaultOptions fills.
type Options struct {
	// MetricsBindAddress serves Prometheus metrics; "0" disables them.
	MetricsBindAddress string
	// HealthProbeBindAddress serves /healthz and /readyz; "0" or "" disables them.
	HealthProbeBindAddress string
	// LeaderElection makes only one replica of the operator reconcile at a time.
	LeaderElection bool
	// LeaderElectionID is the name of the Lease.
	LeaderElectionID string
	// LeaderElectionNamespace holds the Lease; empty means the operator's own namespace
	// (in-cluster) .
	LeaderElectionNamespace string
	// WatchNamespaces restricts the operator to these namespaces; empty means all.
	WatchNamespaces []string
	// NameServerImage and BrokerImage are used when a custom resource names no image.
	NameServerImage string
	BrokerImage     string
	// ClusterDomain, when set, is appended to the pods' DNS names (e.g. "cluster.local").
	ClusterDomain string
	// AdminClientFactory lets the operator ask the nameservers which brokers are registered;
	// nil disables those checks.
	AdminClientFactory controllers.AdminClientFactory
	// RegistrationRecheck is how often the nameservers are asked again while a broker has not
	// registered; 0 means the controller's default (10 s).
	RegistrationRecheck time.Duration
	// SkipControllerNameValidation allows several managers in one process (tests).
	SkipControllerNameValidation bool
	// GracefulShutdownTimeout bounds how long the manager waits for reconciles on stop.
	GracefulShutdownTimeout time.Duration
}

// DefaultOptions returns the options the operator binary starts from.
func DefaultOptions() Options {
	return Options{
		MetricsBindAddress:      ":8080",
		HealthProbeBindAddress:  ":8081",
		LeaderElectionID:        "gorocket-operator.gorocket.io",
		NameServerImage:         DefaultNameServerRepository + ":" + Version,
		BrokerImage:             DefaultBrokerRepository + ":" + Version,
		GracefulShutdownTimeout: 30 * time.Second,
	}
}

// NewScheme returns a scheme with the Kubernetes types and the gorocket API.
func NewScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(s))
	utilruntime.Must(v1alpha1.AddToScheme(s))
	return s
}

// ParseNamespaces splits a comma-separated namespace list, dropping blanks.
func ParseNamespaces(s string) []string {
	var out []string
	for _, n := range strings.Split(s, ",") {
		if n = strings.TrimSpace(n); n != "" {
			out = append(out, n)
		}
	}
	return out
}

// New builds the manager with both reconcilers registered. Start it with mgr.Start(ctx).
func New(cfg *rest.Config, opts Options) (ctrl.Manager, error) {
	if opts.NameServerImage == "" || opts.BrokerImage == "" {
		return nil, fmt.Errorf("manager: the default nameserver and broker images must be set")
	}
	scheme := NewScheme()

	// The cache holds only what the operator manages: children and pods carry the
	// managed-by label (pods inherit it from the StatefulSet template).
	managed := labels.SelectorFromSet(labels.Set{metadata.LabelManagedBy: metadata.ManagedBy})
	cacheOpts := cache.Options{
		ByObject: map[client.Object]cache.ByObject{
			&corev1.Pod{}:                   {Label: managed},
			&corev1.Service{}:               {Label: managed},
			&corev1.ConfigMap{}:             {Label: managed},
			&appsv1.StatefulSet{}:           {Label: managed},
			&policyv1.PodDisruptionBudget{}: {Label: managed},
		},
	}
	if len(opts.WatchNamespaces) > 0 {
		cacheOpts.DefaultNamespaces = map[string]cache.Config{}
		for _, n := range opts.WatchNamespaces {
			cacheOpts.DefaultNamespaces[n] = cache.Config{}
		}
	}
	probeAddr := opts.HealthProbeBindAddress
	if probeAddr == "" {
		probeAddr = "0"
	}
	metricsAddr := opts.MetricsBindAddress
	if metricsAddr == "" {
		metricsAddr = "0"
	}
	grace := opts.GracefulShutdownTimeout
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                        scheme,
		Cache:                         cacheOpts,
		Metrics:                       metricsserver.Options{BindAddress: metricsAddr},
		HealthProbeBindAddress:        probeAddr,
		LeaderElection:                opts.LeaderElection,
		LeaderElectionID:              opts.LeaderElectionID,
		LeaderElectionNamespace:       opts.LeaderElectionNamespace,
		LeaderElectionReleaseOnCancel: true,
		GracefulShutdownTimeout:       &grace,
		Controller:                    config.Controller{SkipNameValidation: &opts.SkipControllerNameValidation},
	})
	if err != nil {
		return nil, fmt.Errorf("manager: creating: %w", err)
	}
	if probeAddr != "0" {
		if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
			return nil, fmt.Errorf("manager: adding health check: %w", err)
		}
		if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
			return nil, fmt.Errorf("manager: adding ready check: %w", err)
		}
	}

	defaults := resource.Defaults{
		NameServerImage: opts.NameServerImage,
		BrokerImage:     opts.BrokerImage,
		ClusterDomain:   opts.ClusterDomain,
	}
	recorder := mgr.GetEventRecorderFor("gorocket-operator")
	if err := (&controllers.NameServerReconciler{
		Client:   mgr.GetClient(),
		Scheme:   scheme,
		Recorder: recorder,
		Defaults: defaults,
	}).SetupWithManager(mgr); err != nil {
		return nil, fmt.Errorf("manager: setting up the NameServer controller: %w", err)
	}
	if err := (&controllers.BrokerGroupReconciler{
		Client:              mgr.GetClient(),
		Scheme:              scheme,
		Recorder:            recorder,
		Defaults:            defaults,
		AdminClientFactory:  opts.AdminClientFactory,
		RegistrationRecheck: opts.RegistrationRecheck,
	}).SetupWithManager(context.Background(), mgr); err != nil {
		return nil, fmt.Errorf("manager: setting up the BrokerGroup controller: %w", err)
	}
	return mgr, nil
}
