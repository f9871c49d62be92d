package controllers

import (
	"context"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/gorocket/gorocket/internal/operator/plan"
)

// reconcileScale decides how many brokers run. Raising spec.replicas adds slaves; lowering it
// removes the highest-ordinal slaves, unless that is unsafe: the refusal is reported in the
// Warning condition (reason ScaleDownRefused) and an Event, and the current count is kept.
func (r *BrokerGroupReconciler) reconcileScale(ctx context.Context, s *brokerGroupState) (time.Duration, error) {
	d := plan.Scale(s.group, s.sts, s.pods)
	s.replicas = d.Replicas
	s.scaleDownRefused = d.Refused
	if d.Refused != "" {
		ctrl.LoggerFrom(ctx).Info("Scale-down refused", "desired", s.group.Spec.Replicas, "kept", d.Replicas, "why", d.Refused)
	}
	// A refusal clears by itself: pod readiness changes are watched.
	return 0, nil
}
