package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/gorocket/gorocket/client/admin"
	"github.com/gorocket/gorocket/controllers"
)

// clusterAdmin adapts client/admin to the controllers' AdminClient: the operator asks the
// nameservers of a BrokerGroup which brokers are registered before a roll moves on.
type clusterAdmin struct {
	logger  *slog.Logger
	timeout time.Duration
}

// newAdminClientFactory returns the factory the BrokerGroup controller calls once per check.
// Each ClusterInfo call dials the nameservers it is given (they differ per BrokerGroup), so
// the client holds no connection between reconciles.
func newAdminClientFactory(logger *slog.Logger, timeout time.Duration) controllers.AdminClientFactory {
	return func() (controllers.AdminClient, error) {
		return &clusterAdmin{logger: logger, timeout: timeout}, nil
	}
}

// ClusterInfo asks the nameservers at namesrvAddrs for GET_BROKER_CLUSTER_INFO.
func (a *clusterAdmin) ClusterInfo(ctx context.Context, namesrvAddrs []string) (*controllers.ClusterInfo, error) {
	c, err := admin.New(a.logger, admin.Options{NameServers: namesrvAddrs, Timeout: a.timeout})
	if err != nil {
		return nil, fmt.Errorf("operator: admin client for %v: %w", namesrvAddrs, err)
	}
	defer c.Close()
	ci, err := c.ClusterInfo(ctx)
	if err != nil {
		return nil, fmt.Errorf("operator: cluster info from %v: %w", namesrvAddrs, err)
	}
	out := &controllers.ClusterInfo{
		BrokerAddrs: make(map[string]map[int64]string, len(ci.BrokerAddrTable)),
		Clusters:    make(map[string][]string, len(ci.ClusterAddrTable)),
	}
	for name, bd := range ci.BrokerAddrTable {
		addrs := make(map[int64]string, len(bd.BrokerAddrs))
		for id, addr := range bd.BrokerAddrs {
			addrs[id] = addr
		}
		out.BrokerAddrs[name] = addrs
	}
	for cluster, names := range ci.ClusterAddrTable {
		out.Clusters[cluster] = append([]string(nil), names...)
	}
	return out, nil
}

// Close implements controllers.AdminClient; ClusterInfo closes its client itself.
func (a *clusterAdmin) Close() error { return nil }
