// Package controllers holds the reconcilers of the gorocket custom resources. Each Reconcile
// reads as a table of contents of steps, one per reconcile_*.go file; child objects come from
// the pure builders of internal/operator/resource and status conditions from
// internal/operator/status. A running cluster is reached only through AdminClient.
package controllers

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/retry"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/gorocket/gorocket/api/v1alpha1"
	"github.com/gorocket/gorocket/internal/operator/resource"
	"github.com/gorocket/gorocket/internal/operator/status"
)

// Event reasons.
const (
	EventCreated          = "Created"
	EventUpdated          = "Updated"
	EventScaled           = "Scaled"
	EventScaleDownRefused = "ScaleDownRefused"
	EventRestartingPod    = "RestartingPod"
	EventRollBlocked      = "RollBlocked"
	EventPaused           = "Paused"
	EventInvalidSpec      = "InvalidSpec"
	EventReconcileError   = "ReconcileError"
)

// conflictRequeue is how soon a reconcile that lost an optimistic-concurrency race runs again.
const conflictRequeue = 500 * time.Millisecond

// specError is an error caused by the object's spec (or by objects the user must fix). It is
// reported in the ReconcileSuccess condition and an Event, and not retried: a change to the
// object, or to the watched objects it depends on, triggers the next attempt.
type specError struct {
	reason string
	err    error
}

func (e *specError) Error() string { return e.err.Error() }
func (e *specError) Unwrap() error { return e.err }

func newSpecError(reason string, err error) error { return &specError{reason: reason, err: err} }

// classify turns a reconcile error into the ReconcileSuccess outcome and what to return to
// controller-runtime: spec errors are final (nil error), conflicts requeue quickly, anything
// else is returned so controller-runtime retries with back-off.
func classify(err error) (status.ReconcileResult, ctrl.Result, error) {
	if err == nil {
		return status.ReconcileResult{}, ctrl.Result{}, nil
	}
	var se *specError
	switch {
	case errors.As(err, &se):
		return status.ReconcileResult{Reason: se.reason, Message: truncate(se.Error())}, ctrl.Result{}, nil
	case apierrors.IsConflict(err):
		return status.ReconcileResult{Reason: v1alpha1.ReasonError, Message: truncate(err.Error())}, ctrl.Result{RequeueAfter: conflictRequeue}, nil
	default:
		return status.ReconcileResult{Reason: v1alpha1.ReasonError, Message: truncate(err.Error())}, ctrl.Result{}, err
	}
}

func truncate(s string) string {
	const max = 1024
	if len(s) > max {
		return s[:max-3] + "..."
	}
	return s
}

func isPaused(obj metav1.Object) bool {
	return strings.EqualFold(obj.GetAnnotations()[v1alpha1.PauseReconcileAnnotation], "true")
}

// applier creates or updates children from builders.
type applier struct {
	client client.Client
	scheme *runtime.Scheme
}

// apply creates or updates one child with CreateOrUpdate, retrying on conflicts. The child is
// controlled by owner. An existing object of the same name that owner does not control is
// never adopted: that is a ChildConflict spec error.
func (a applier) apply(ctx context.Context, owner client.Object, b resource.Builder) (client.Object, controllerutil.OperationResult, error) {
	var obj client.Object
	var op controllerutil.OperationResult
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		obj = b.Build()
		var err error
		op, err = controllerutil.CreateOrUpdate(ctx, a.client, obj, func() error {
			if ts := obj.GetCreationTimestamp(); !ts.IsZero() {
				ref := metav1.GetControllerOf(obj)
				if ref == nil || ref.UID != owner.GetUID() {
					return newSpecError(v1alpha1.ReasonChildConflict, fmt.Errorf("%s %s already exists and is not controlled by this object; rename one of them",
						a.kind(obj), obj.GetName()))
				}
			}
			if err := b.Update(obj); err != nil {
				return err
			}
			return controllerutil.SetControllerReference(owner, obj, a.scheme)
		})
		return err
	})
	if apierrors.IsAlreadyExists(err) {
		// The object exists but is not visible to the operator's cache, which only holds
		// objects labelled as managed by it: someone else's object has this name.
		err = newSpecError(v1alpha1.ReasonChildConflict, fmt.Errorf("%s %s already exists and is not managed by the operator; rename one of them",
			a.kind(obj), obj.GetName()))
	}
	if err != nil {
		var se *specError
		if errors.As(err, &se) {
			return obj, op, err
		}
		return obj, op, fmt.Errorf("applying %s %s: %w", a.kind(obj), obj.GetName(), err)
	}
	return obj, op, nil
}

func (a applier) kind(obj client.Object) string {
	gvk, err := apiutil.GVKForObject(obj, a.scheme)
	if err != nil {
		return fmt.Sprintf("%T", obj)
	}
	return gvk.Kind
}

// emitConditionEvents records an Event when the ReconcileSuccess condition turns False (or its
// message changes) and when the Warning condition turns True (or its reason or message changes),
// so that every failure and every refusal is visible in `kubectl describe` once, not per pass.
func emitConditionEvents(rec record.EventRecorder, obj runtime.Object, before, after []metav1.Condition) {
	changed := func(t string, want metav1.ConditionStatus) *metav1.Condition {
		c := meta.FindStatusCondition(after, t)
		if c == nil || c.Status != want {
			return nil
		}
		b := meta.FindStatusCondition(before, t)
		if b != nil && b.Status == c.Status && b.Reason == c.Reason && b.Message == c.Message {
			return nil
		}
		return c
	}
	if c := changed(v1alpha1.ConditionReconcileSuccess, metav1.ConditionFalse); c != nil {
		reason := EventReconcileError
		if c.Reason != v1alpha1.ReasonError {
			reason = c.Reason
		}
		rec.Event(obj, corev1.EventTypeWarning, reason, c.Message)
	}
	if c := changed(v1alpha1.ConditionWarning, metav1.ConditionTrue); c != nil {
		typ := corev1.EventTypeWarning
		if c.Reason == v1alpha1.ReasonPaused {
			typ = corev1.EventTypeNormal
		}
		rec.Event(obj, typ, c.Reason, c.Message)
	}
}
