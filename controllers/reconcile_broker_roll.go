package controllers

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gorocket/gorocket/internal/operator/metadata"
	"github.com/gorocket/gorocket/internal/operator/plan"
	"github.com/gorocket/gorocket/internal/operator/status"
)

// reconcileRoll restarts at most one outdated broker per pass, slaves first (highest ordinal
// down) and the master last, each after the previously restarted one is Ready (and registered,
// with an admin client). The StatefulSet uses OnDelete, so the StatefulSet controller recreates
// a deleted pod from the current template; its events bring the next pass.
func (r *BrokerGroupReconciler) reconcileRoll(ctx context.Context, s *brokerGroupState) (time.Duration, error) {
	log := ctrl.LoggerFrom(ctx)
	d := plan.Roll(metadata.BrokerStatefulSetName(s.group), s.sts, s.pods, s.registered)
	if d.Pending == 0 {
		return 0, nil
	}
	s.rollBlocked = d.Blocked
	// Replacing an outdated pod that is not Ready never needs the nameservers' view; every
	// other restart does when the operator has an admin client but could not ask.
	replacingUnready := d.Delete != nil && !status.PodReady(d.Delete)
	if s.adminError != "" && !replacingUnready {
		s.rollBlocked = "the rolling restart waits until the nameservers can be asked whether restarted brokers re-registered: " + s.adminError
		return r.registrationRecheck(), nil
	}
	if d.Delete == nil {
		log.V(1).Info("Rolling restart waiting", "pending", d.Pending, "for", d.Waiting)
		if d.AwaitsRegistration {
			return r.registrationRecheck(), nil
		}
		return 0, nil // pod events bring the next pass
	}
	p := d.Delete
	log.Info("Restarting broker for the rolling update", "pod", p.Name, "pending", d.Pending)
	uid := p.UID
	if err := r.Delete(ctx, p, client.Preconditions{UID: &uid}); err != nil && !apierrors.IsNotFound(err) {
		return 0, fmt.Errorf("deleting pod %s for the rolling restart: %w", p.Name, err)
	}
	r.Recorder.Eventf(s.group, corev1.EventTypeNormal, EventRestartingPod,
		"restarting %s to apply the new configuration (%d broker(s) left on the old one, master last)", p.Name, d.Pending-1)
	return 0, nil
}
