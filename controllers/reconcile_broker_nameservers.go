package controllers

import (
	"context"
	"fmt"
	"slices"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gorocket/gorocket/api/v1alpha1"
	"github.com/gorocket/gorocket/internal/operator/metadata"
)

// reconcileNameServerAddresses resolves the namesrvAddr list. With nameServerRef the brokers
// use the nameservers' stable per-pod DNS names, one per NameServer replica: replacing a
// nameserver pod changes nothing for the brokers; changing the NameServer's replica count
// changes the list, which rolls the brokers like any configuration change.
func (r *BrokerGroupReconciler) reconcileNameServerAddresses(ctx context.Context, s *brokerGroupState) (time.Duration, error) {
	g := s.group
	if len(g.Spec.NameServerAddresses) > 0 {
		s.namesrvAddrs = slices.Clone(g.Spec.NameServerAddresses)
		return 0, nil
	}
	if g.Spec.NameServerRef == nil {
		// The CRD requires one of the two; an object stored before that rule gets a clear error.
		return 0, newSpecError(v1alpha1.ReasonInvalidSpec, fmt.Errorf("one of spec.nameServerRef or spec.nameServerAddresses must be set"))
	}
	key := client.ObjectKey{Namespace: g.Spec.NameServerRef.Namespace, Name: g.Spec.NameServerRef.Name}
	if key.Namespace == "" {
		key.Namespace = g.Namespace
	}
	ns := &v1alpha1.NameServer{}
	if err := r.Get(ctx, key, ns); err != nil {
		if apierrors.IsNotFound(err) {
			// The NameServer watch reconciles this group again once it exists.
			return 0, newSpecError(v1alpha1.ReasonNameServerNotFound,
				fmt.Errorf("NameServer %s not found; the brokers are created once it exists", key))
		}
		return 0, fmt.Errorf("reading NameServer %s: %w", key, err)
	}
	s.namesrvAddrs = metadata.NameServerAddresses(ns, r.Defaults.ClusterDomain)
	return 0, nil
}
