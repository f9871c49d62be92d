package controllers

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gorocket/gorocket/api/v1alpha1"
	"github.com/gorocket/gorocket/internal/operator/resource"
)

// reconcileConfig renders broker.properties with the same config package the broker parses. An
// unknown key or an invalid value in spec.config is a spec error: nothing is changed, and the
// ReconcileSuccess condition names the key.
func (r *BrokerGroupReconciler) reconcileConfig(_ context.Context, s *brokerGroupState) (time.Duration, error) {
	data, hash, err := resource.RenderBrokerProperties(resource.BrokerConfigInput{
		Group:           s.group,
		NameServerAddrs: s.namesrvAddrs,
	})
	if err != nil {
		if errors.Is(err, resource.ErrInvalidSpec) {
			return 0, newSpecError(v1alpha1.ReasonInvalidSpec, err)
		}
		return 0, fmt.Errorf("rendering broker.properties: %w", err)
	}
	s.properties, s.propertiesHash = data, hash
	return 0, nil
}
