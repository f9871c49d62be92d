package controllers

import (
	"context"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/record"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/gorocket/gorocket/api/v1alpha1"
	"github.com/gorocket/gorocket/internal/operator/resource"
)

// NameServerReconciler reconciles NameServer objects into a headless Service, a client
// Service and a StatefulSet.
type NameServerReconciler struct {
	client.Client
	Scheme   *runtime.Scheme
	Recorder record.EventRecorder
	// Defaults are the operator-wide image and DNS settings.
	Defaults resource.Defaults
}

// nameServerState is what one reconcile pass of a NameServer learns and decides.
type nameServerState struct {
	ns     *v1alpha1.NameServer
	paused bool
	sts    *appsv1.StatefulSet
}

// +kubebuilder:rbac:groups=gorocket.io,resources=nameservers,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=gorocket.io,resources=nameservers/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=gorocket.io,resources=nameservers/finalizers,verbs=update
// +kubebuilder:rbac:groups=apps,resources=statefulsets,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=services,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile moves a NameServer's children towards its spec, then records the observed status.
func (r *NameServerReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	log := ctrl.LoggerFrom(ctx)
	ns := &v1alpha1.NameServer{}
	if err := r.Get(ctx, req.NamespacedName, ns); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !ns.DeletionTimestamp.IsZero() {
		// Children carry owner references; the garbage collector removes them.
		return ctrl.Result{}, nil
	}
	s := &nameServerState{ns: ns, paused: isPaused(ns)}

	var err error
	if s.paused {
		log.V(1).Info("Reconciliation paused", "annotation", v1alpha1.PauseReconcileAnnotation)
		err = r.observeNameServer(ctx, s)
	} else {
		err = r.reconcileNameServerChildren(ctx, s) // headless Service, client Service, StatefulSet
	}
	return r.reconcileNameServerStatus(ctx, s, err)
}

// SetupWithManager registers the controller: it reconciles on NameServer spec or annotation
// changes and on any change of the children it owns.
func (r *NameServerReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.NameServer{}, builder.WithPredicates(predicate.Or(predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}))).
		Owns(&appsv1.StatefulSet{}).
		Owns(&corev1.Service{}).
		Named("nameserver").
		Complete(r)
}
