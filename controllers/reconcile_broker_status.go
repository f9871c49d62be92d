package controllers

import (
	"context"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gorocket/gorocket/internal/operator/metadata"
	"github.com/gorocket/gorocket/internal/operator/status"
)

// reconcileBrokerStatus records the observed state, classifies the pass's error, and tells
// controller-runtime when to look again. ObservedGeneration only moves after a fully successful,
// unpaused pass.
func (r *BrokerGroupReconciler) reconcileBrokerStatus(ctx context.Context, s *brokerGroupState, reconcileErr error, requeue time.Duration) (ctrl.Result, error) {
	log := ctrl.LoggerFrom(ctx)
	result, res, retErr := classify(reconcileErr)
	if res.RequeueAfter == 0 {
		res.RequeueAfter = requeue
	}
	g := s.group
	obs := status.BrokerGroupObservation{
		Group:            g,
		StatefulSet:      s.sts,
		Pods:             s.pods,
		Paused:           s.paused,
		ScaleDownRefused: s.scaleDownRefused,
		RollBlocked:      s.rollBlocked,
		Result:           result,
		AdminEnabled:     r.AdminClientFactory != nil,
		Registered:       s.registered,
		AdminError:       s.adminError,
	}
	old := g.DeepCopy()
	st := &g.Status
	st.Conditions = status.BrokerGroupConditions(obs, old.Status.Conditions)
	st.Members = status.BrokerMembers(obs)
	st.BrokerName = g.EffectiveBrokerName()
	st.Selector = labels.SelectorFromSet(metadata.BrokerSelectorLabels(g)).String()
	st.Replicas, st.ReadyReplicas, st.UpdatedReplicas = int32(len(st.Members)), 0, 0
	for _, m := range st.Members {
		if m.Ready {
			st.ReadyReplicas++
		}
		if m.Updated {
			st.UpdatedReplicas++
		}
	}
	if s.namesrvAddrs != nil {
		st.NameServerAddresses = s.namesrvAddrs
	}
	if result.Succeeded() && !s.paused {
		st.ObservedGeneration = g.Generation
	}
	emitConditionEvents(r.Recorder, g, old.Status.Conditions, st.Conditions)

	// The optimistic lock makes a patch computed from a stale cached object fail instead of
	// silently keeping newer fields; the next pass recomputes everything from fresh reads.
	if err := r.Status().Patch(ctx, g, client.MergeFromWithOptions(old, client.MergeFromWithOptimisticLock{})); err != nil {
		switch {
		case apierrors.IsNotFound(err):
			return ctrl.Result{}, nil
		case apierrors.IsConflict(err):
			log.V(1).Info("Status update conflict; requeueing")
			return ctrl.Result{RequeueAfter: conflictRequeue}, nil
		}
		return ctrl.Result{}, fmt.Errorf("updating BrokerGroup status: %w", err)
	}
	if reconcileErr != nil {
		log.Error(reconcileErr, "Reconcile failed", "reason", result.Reason)
	}
	return res, retErr
}
