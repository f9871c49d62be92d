package controllers

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gorocket/gorocket/internal/operator/metadata"
	"github.com/gorocket/gorocket/internal/operator/status"
)

// reconcileNameServerStatus records what was observed, classifies the pass's error, and tells
// controller-runtime whether to retry.
func (r *NameServerReconciler) reconcileNameServerStatus(ctx context.Context, s *nameServerState, reconcileErr error) (ctrl.Result, error) {
	log := ctrl.LoggerFrom(ctx)
	result, res, retErr := classify(reconcileErr)
	ns := s.ns
	desired := int32(2)
	if ns.Spec.Replicas != nil {
		desired = *ns.Spec.Replicas
	}
	obs := status.NameServerObservation{
		Generation:      ns.Generation,
		DesiredReplicas: desired,
		StatefulSet:     s.sts,
		Paused:          s.paused,
		Result:          result,
	}
	old := ns.DeepCopy()
	st := &ns.Status
	st.Conditions = status.NameServerConditions(obs, old.Status.Conditions)
	st.Addresses = metadata.NameServerAddresses(ns, r.Defaults.ClusterDomain)
	st.Selector = labels.SelectorFromSet(metadata.NameServerSelectorLabels(ns)).String()
	st.Replicas, st.ReadyReplicas = 0, 0
	if s.sts != nil {
		st.Replicas = s.sts.Status.Replicas
		st.ReadyReplicas = s.sts.Status.ReadyReplicas
	}
	if result.Succeeded() && !s.paused {
		st.ObservedGeneration = ns.Generation
	}
	emitConditionEvents(r.Recorder, ns, old.Status.Conditions, st.Conditions)

	// The optimistic lock makes a patch computed from a stale cached object fail instead of
	// silently keeping newer fields; the next pass recomputes everything from fresh reads.
	if err := r.Status().Patch(ctx, ns, client.MergeFromWithOptions(old, client.MergeFromWithOptimisticLock{})); err != nil {
		switch {
		case apierrors.IsNotFound(err):
			return ctrl.Result{}, nil
		case apierrors.IsConflict(err):
			log.V(1).Info("Status update conflict; requeueing")
			return ctrl.Result{RequeueAfter: conflictRequeue}, nil
		}
		return ctrl.Result{}, fmt.Errorf("updating NameServer status: %w", err)
	}
	if reconcileErr != nil {
		log.Error(reconcileErr, "Reconcile failed", "reason", result.Reason)
	}
	return res, retErr
}
