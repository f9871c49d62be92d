package controllers

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gorocket/gorocket/internal/operator/metadata"
)

// observe reads the group's StatefulSet and pods. Everything else the pass decides, and the
// status, is computed from these observations.
func (r *BrokerGroupReconciler) observe(ctx context.Context, s *brokerGroupState) error {
	g := s.group
	sts := &appsv1.StatefulSet{}
	err := r.Get(ctx, client.ObjectKey{Namespace: g.Namespace, Name: metadata.BrokerStatefulSetName(g)}, sts)
	switch {
	case apierrors.IsNotFound(err):
		s.sts = nil
	case err != nil:
		return fmt.Errorf("reading StatefulSet: %w", err)
	default:
		s.sts = sts
	}
	var pods corev1.PodList
	if err := r.List(ctx, &pods, client.InNamespace(g.Namespace), client.MatchingLabels(metadata.BrokerSelectorLabels(g))); err != nil {
		return fmt.Errorf("listing broker pods: %w", err)
	}
	s.pods = pods.Items
	return nil
}
