package controllers

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/gorocket/gorocket/internal/operator/metadata"
	"github.com/gorocket/gorocket/internal/operator/resource"
)

// reconcileNameServerChildren applies the NameServer's builders in order. Nameservers scale
// freely, in both directions: they hold no data a broker cannot re-register.
func (r *NameServerReconciler) reconcileNameServerChildren(ctx context.Context, s *nameServerState) error {
	log := ctrl.LoggerFrom(ctx)
	if err := r.observeNameServer(ctx, s); err != nil {
		return err
	}
	var before int32 = -1
	if s.sts != nil && s.sts.Spec.Replicas != nil {
		before = *s.sts.Spec.Replicas
	}
	a := applier{client: r.Client, scheme: r.Scheme}
	for _, b := range resource.NameServerBuilders(s.ns, r.Defaults) {
		obj, op, err := a.apply(ctx, s.ns, b)
		if err != nil {
			return err
		}
		if op != controllerutil.OperationResultNone {
			log.Info("Applied child", "kind", a.kind(obj), "name", obj.GetName(), "operation", op)
			r.Recorder.Eventf(s.ns, corev1.EventTypeNormal, eventFor(op), "%s %s %s", a.kind(obj), obj.GetName(), op)
		}
		if sts, ok := obj.(*appsv1.StatefulSet); ok {
			s.sts = sts
			if before >= 0 && sts.Spec.Replicas != nil && *sts.Spec.Replicas != before {
				log.Info("Scaled nameservers", "from", before, "to", *sts.Spec.Replicas)
				r.Recorder.Eventf(s.ns, corev1.EventTypeNormal, EventScaled, "scaled nameservers from %d to %d", before, *sts.Spec.Replicas)
			}
		}
	}
	return nil
}

// observeNameServer reads the StatefulSet without changing anything.
func (r *NameServerReconciler) observeNameServer(ctx context.Context, s *nameServerState) error {
	sts := &appsv1.StatefulSet{}
	err := r.Get(ctx, client.ObjectKey{Namespace: s.ns.Namespace, Name: metadata.NameServerStatefulSetName(s.ns)}, sts)
	switch {
	case apierrors.IsNotFound(err):
		s.sts = nil
		return nil
	case err != nil:
		return fmt.Errorf("reading StatefulSet: %w", err)
	}
	s.sts = sts
	return nil
}

func eventFor(op controllerutil.OperationResult) string {
	if op == controllerutil.OperationResultCreated {
		return EventCreated
	}
	return EventUpdated
}
