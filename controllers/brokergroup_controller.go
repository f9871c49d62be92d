package controllers

import (
	"context"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/record"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/gorocket/gorocket/api/v1alpha1"
	"github.com/gorocket/gorocket/internal/operator/metadata"
	"github.com/gorocket/gorocket/internal/operator/resource"
)

// NameServerRefIndex indexes BrokerGroups by the "namespace/name" of the NameServer they
// reference, so a NameServer change reaches the groups that use it.
const NameServerRefIndex = "spec.nameServerRef"

// BrokerGroupReconciler reconciles BrokerGroup objects into a ConfigMap with the rendered
// broker.properties, a headless Service, a StatefulSet and a PodDisruptionBudget, scales them
// safely and rolls configuration changes slaves first, master last.
type BrokerGroupReconciler struct {
	client.Client
	Scheme   *runtime.Scheme
	Recorder record.EventRecorder
	// Defaults are the operator-wide image and DNS settings.
	Defaults resource.Defaults
	// AdminClientFactory, when not nil, lets the operator ask the nameservers which brokers are
	// registered: a roll then waits for each restarted broker to re-register.
	AdminClientFactory AdminClientFactory
	// RegistrationRecheck is how soon the nameservers are asked again while a broker has not
	// registered; 0 means 10 s.
	RegistrationRecheck time.Duration
}

func (r *BrokerGroupReconciler) registrationRecheck() time.Duration {
	if r.RegistrationRecheck > 0 {
		return r.RegistrationRecheck
	}
	return defaultRegistrationRecheck
}

// brokerGroupState is what one reconcile pass of a BrokerGroup learns and decides.
type brokerGroupState struct {
	group  *v1alpha1.BrokerGroup
	paused bool

	// Observed.
	sts  *appsv1.StatefulSet
	pods []corev1.Pod

	// Decided.
	namesrvAddrs     []string
	properties       string
	propertiesHash   string
	replicas         int32
	scaleDownRefused string
	rollBlocked      string

	// From the admin client (nil registered = unknown).
	registered map[int64]bool
	adminError string
}

// brokerGroupStep is one reconcile step; it returns how soon to look again (0 = only on a
// watch event) or an error.
type brokerGroupStep func(ctx context.Context, s *brokerGroupState) (time.Duration, error)

// +kubebuilder:rbac:groups=gorocket.io,resources=brokergroups,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=gorocket.io,resources=brokergroups/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=gorocket.io,resources=brokergroups/finalizers,verbs=update
// +kubebuilder:rbac:groups=gorocket.io,resources=nameservers,verbs=get;list;watch
// +kubebuilder:rbac:groups=apps,resources=statefulsets,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=services;configmaps,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=pods,verbs=get;list;watch;delete
// +kubebuilder:rbac:groups=policy,resources=poddisruptionbudgets,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile moves a BrokerGroup towards its spec, one safe step at a time, then records the
// observed status. It never sleeps: every wait ends with a watch event (a pod turning Ready, the
// StatefulSet controller catching up) or, for the nameservers' view, a requeue.
func (r *BrokerGroupReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	log := ctrl.LoggerFrom(ctx)
	g := &v1alpha1.BrokerGroup{}
	if err := r.Get(ctx, req.NamespacedName, g); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !g.DeletionTimestamp.IsZero() {
		// Children carry owner references; the garbage collector removes them, and the
		// StatefulSet's claim retention policy decides about the volumes.
		return ctrl.Result{}, nil
	}
	s := &brokerGroupState{group: g, paused: isPaused(g)}
	if err := r.observe(ctx, s); err != nil {
		return r.reconcileBrokerStatus(ctx, s, err, 0)
	}
	if s.paused {
		log.V(1).Info("Reconciliation paused", "annotation", v1alpha1.PauseReconcileAnnotation)
		return r.reconcileBrokerStatus(ctx, s, nil, 0)
	}

	steps := []brokerGroupStep{
		r.reconcileNameServerAddresses, // namesrvAddr from nameServerRef or the explicit list
		r.reconcileConfig,              // render broker.properties; refuse invalid spec.config
		r.reconcileScale,               // replicas to run; refuse unsafe scale-downs
		r.reconcileChildren,            // ConfigMap, headless Service, StatefulSet, PDB
		r.reconcileRegistration,        // which brokers the nameservers list (admin client)
		r.reconcileRoll,                // restart one outdated pod: slaves first, master last
	}
	var requeue time.Duration
	for _, step := range steps {
		after, err := step(ctx, s)
		if err != nil {
			return r.reconcileBrokerStatus(ctx, s, err, 0)
		}
		if after > 0 && (requeue == 0 || after < requeue) {
			requeue = after
		}
	}
	return r.reconcileBrokerStatus(ctx, s, nil, requeue)
}

// SetupWithManager registers the controller and its watches: the BrokerGroup (spec and
// annotation changes), the children it owns, the group's pods (readiness drives scale-downs
// and rolls) and the NameServers the groups reference.
func (r *BrokerGroupReconciler) SetupWithManager(ctx context.Context, mgr ctrl.Manager) error {
	if err := mgr.GetFieldIndexer().IndexField(ctx, &v1alpha1.BrokerGroup{}, NameServerRefIndex, nameServerRefKey); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.BrokerGroup{}, builder.WithPredicates(predicate.Or(predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}))).
		Owns(&appsv1.StatefulSet{}).
		Owns(&corev1.Service{}).
		Owns(&corev1.ConfigMap{}).
		Owns(&policyv1.PodDisruptionBudget{}).
		Watches(&corev1.Pod{}, handler.EnqueueRequestsFromMapFunc(podToBrokerGroup)).
		Watches(&v1alpha1.NameServer{}, handler.EnqueueRequestsFromMapFunc(r.nameServerToBrokerGroups),
			builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Named("brokergroup").
		Complete(r)
}

func nameServerRefKey(obj client.Object) []string {
	g, ok := obj.(*v1alpha1.BrokerGroup)
	if !ok || g.Spec.NameServerRef == nil {
		return nil
	}
	ns := g.Spec.NameServerRef.Namespace
	if ns == "" {
		ns = g.Namespace
	}
	return []string{ns + "/" + g.Spec.NameServerRef.Name}
}

// podToBrokerGroup maps a broker pod to its group through the labels the pod template carries.
func podToBrokerGroup(_ context.Context, obj client.Object) []reconcile.Request {
	l := obj.GetLabels()
	if l[metadata.LabelComponent] != metadata.ComponentBroker || l[metadata.LabelManagedBy] != metadata.ManagedBy || l[metadata.LabelInstance] == "" {
		return nil
	}
	return []reconcile.Request{{NamespacedName: client.ObjectKey{Namespace: obj.GetNamespace(), Name: l[metadata.LabelInstance]}}}
}

func (r *BrokerGroupReconciler) nameServerToBrokerGroups(ctx context.Context, obj client.Object) []reconcile.Request {
	var list v1alpha1.BrokerGroupList
	if err := r.List(ctx, &list, client.MatchingFields{NameServerRefIndex: obj.GetNamespace() + "/" + obj.GetName()}); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "Listing BrokerGroups of a NameServer", "nameserver", client.ObjectKeyFromObject(obj))
		return nil
	}
	out := make([]reconcile.Request, 0, len(list.Items))
	for i := range list.Items {
		out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
	}
	return out
}
