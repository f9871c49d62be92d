package controllers

import (
	"context"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"
)

const (
	// adminTimeout bounds one question to the nameservers.
	adminTimeout = 5 * time.Second
	// defaultRegistrationRecheck is how soon the nameservers are asked again while a broker
	// has not registered (or they could not be asked): their state cannot be watched.
	defaultRegistrationRecheck = 10 * time.Second
)

// reconcileRegistration asks the nameservers which of the group's brokers are registered.
// Without an admin client it does nothing, and the roll relies on pod readiness alone. An
// unreachable nameserver is not a reconcile error: it is reported in the BrokersRegistered
// condition and blocks the roll until the answer is known.
func (r *BrokerGroupReconciler) reconcileRegistration(ctx context.Context, s *brokerGroupState) (time.Duration, error) {
	if r.AdminClientFactory == nil || s.sts == nil {
		return 0, nil
	}
	log := ctrl.LoggerFrom(ctx)
	admin, err := r.AdminClientFactory()
	if err != nil {
		s.adminError = "cannot create the admin client: " + err.Error()
		log.Error(err, "Creating admin client")
		return r.registrationRecheck(), nil
	}
	defer func() {
		if err := admin.Close(); err != nil {
			log.V(1).Info("Closing admin client", "error", err.Error())
		}
	}()
	actx, cancel := context.WithTimeout(ctx, adminTimeout)
	defer cancel()
	info, err := admin.ClusterInfo(actx, s.namesrvAddrs)
	if err != nil {
		s.adminError = "cannot ask the nameservers which brokers are registered: " + err.Error()
		log.Info("Nameservers unreachable", "addresses", s.namesrvAddrs, "error", err.Error())
		return r.registrationRecheck(), nil
	}
	g := s.group
	s.registered = map[int64]bool{}
	missing := false
	for i := 0; i < int(s.replicas); i++ {
		ok := info.Registered(g.Spec.ClusterName, g.EffectiveBrokerName(), int64(i))
		s.registered[int64(i)] = ok
		missing = missing || !ok
	}
	if missing {
		return r.registrationRecheck(), nil
	}
	return 0, nil
}
