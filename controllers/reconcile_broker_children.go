package controllers

import (
	"context"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/gorocket/gorocket/internal/operator/resource"
)

// reconcileChildren applies the group's builders in order (ConfigMap, headless Service,
// StatefulSet, PodDisruptionBudget; see resource.BrokerGroupBuilders for why).
func (r *BrokerGroupReconciler) reconcileChildren(ctx context.Context, s *brokerGroupState) (time.Duration, error) {
	log := ctrl.LoggerFrom(ctx)
	var before int32 = -1
	if s.sts != nil && s.sts.Spec.Replicas != nil {
		before = *s.sts.Spec.Replicas
	}
	a := applier{client: r.Client, scheme: r.Scheme}
	builders := resource.BrokerGroupBuilders(resource.BrokerGroupInput{
		Group:          s.group,
		Defaults:       r.Defaults,
		Properties:     s.properties,
		PropertiesHash: s.propertiesHash,
		Replicas:       s.replicas,
	})
	for _, b := range builders {
		obj, op, err := a.apply(ctx, s.group, b)
		if err != nil {
			return 0, err
		}
		if op != controllerutil.OperationResultNone {
			log.Info("Applied child", "kind", a.kind(obj), "name", obj.GetName(), "operation", op)
			r.Recorder.Eventf(s.group, corev1.EventTypeNormal, eventFor(op), "%s %s %s", a.kind(obj), obj.GetName(), op)
		}
		if sts, ok := obj.(*appsv1.StatefulSet); ok {
			s.sts = sts
			if before >= 0 && *sts.Spec.Replicas != before {
				log.Info("Scaled brokers", "from", before, "to", *sts.Spec.Replicas)
				r.Recorder.Eventf(s.group, corev1.EventTypeNormal, EventScaled, "scaled brokers from %d to %d", before, *sts.Spec.Replicas)
			}
		}
	}
	return 0, nil
}
