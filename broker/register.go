package broker

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/gorocket/gorocket/remoting/protocol"
)

// kickRegister asks the registration loop to register now (topic change). Bursts coalesce.
func (s *Server) kickRegister() {
	select {
	case s.regKick <- struct{}{}:
	default:
	}
}

// registerLoop re-registers every RegisterPeriod and on every kick. A slave that has not found
// its master yet (no address from any nameserver, or its replication connection is down) retries
// sooner, from seekMasterMinRetry doubling up to RegisterPeriod: masters and slaves start in any
// order, and the master's HA address only comes with a registration answered after the master
// registered.
func (s *Server) registerLoop() {
	defer s.wg.Done()
	t := time.NewTicker(s.opts.RegisterPeriod)
	defer t.Stop()
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	defer retry.Stop()
	backoff := seekMasterMinRetry
	for {
		if s.seekingMaster() {
			retry.Reset(min(backoff, s.opts.RegisterPeriod))
			backoff = min(2*backoff, s.opts.RegisterPeriod)
		} else {
			backoff = seekMasterMinRetry
		}
		select {
		case <-s.quit:
			return
		case <-t.C:
		case <-s.regKick:
		case <-retry.C:
		}
		retry.Stop()
		if err := s.registerAll(); err != nil {
			s.log.Warn("register broker failed", "err", err)
		}
	}
}

// seekMasterMinRetry is the first re-registration delay of a slave looking for its master.
const seekMasterMinRetry = 500 * time.Millisecond

// seekingMaster reports a slave that does not know its master's address or whose replication
// connection is down.
func (s *Server) seekingMaster() bool {
	if s.haSlave == nil || len(s.opts.Config.NamesrvAddr) == 0 {
		return false
	}
	return s.MasterAddr() == "" || !s.haSlave.State().Connected
}

// registerAll sends REGISTER_BROKER to every nameserver in parallel (each bounded by
// registerBrokerTimeoutMills) and returns the joined errors.
func (s *Server) registerAll() error {
	addrs := s.opts.Config.NamesrvAddr
	if len(addrs) == 0 {
		return nil
	}
	body, err := protocol.EncodeRegisterBrokerBody(&protocol.RegisterBrokerBody{
		TopicConfigSerializeWrapper: s.topicWrapper(), FilterServerList: []string{},
	}, s.opts.Config.CompressedRegister)
	if err != nil {
		return fmt.Errorf("broker: encode register body: %w", err)
	}
	h := protocol.RegisterBrokerRequestHeader{
		BrokerName: s.opts.Config.BrokerName, BrokerAddr: s.AdvertisedAddr(), ClusterName: s.opts.Config.BrokerClusterName,
		HAServerAddr: s.haAddr(), BrokerID: s.opts.Config.BrokerID, Compressed: s.opts.Config.CompressedRegister,
		BodyCrc32: protocol.MaskedCRC32(body),
	}
	timeout := time.Duration(s.opts.Config.RegisterBrokerTimeoutMills) * time.Millisecond
	if timeout <= 0 {
		timeout = 6 * time.Second
	}
	var (
		mu     sync.Mutex
		errs   []error
		wg     sync.WaitGroup
		haAddr string // from the responses: the master's HA and main address (slaves)
		master string
	)
	for _, addr := range addrs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			resp, err := s.nsClient.Invoke(ctx, addr, protocol.NewRequest(protocol.ReqRegisterBroker, &h, body))
			if err == nil {
				err = resp.Err()
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, fmt.Errorf("nameserver %s: %w", addr, err))
				return
			}
			var rh protocol.RegisterBrokerResponseHeader
			_ = resp.DecodeHeader(&rh)
			if rh.HAServerAddr != "" {
				haAddr = rh.HAServerAddr
			}
			if rh.MasterAddr != "" {
				master = rh.MasterAddr
			}
			s.regMu.Lock()
			s.registered[addr] = true
			s.regMu.Unlock()
		}()
	}
	wg.Wait()
	s.onRegisterResponse(haAddr, master)
	if len(errs) == 0 {
		s.log.Debug("registered with nameservers", "nameservers", len(addrs))
	}
	return errors.Join(errs...)
}

// unregisterAll sends UNREGISTER_BROKER to every nameserver (3 s each, in parallel).
func (s *Server) unregisterAll() {
	addrs := s.opts.Config.NamesrvAddr
	h := protocol.UnregisterBrokerRequestHeader{
		BrokerName: s.opts.Config.BrokerName, BrokerAddr: s.AdvertisedAddr(),
		ClusterName: s.opts.Config.BrokerClusterName, BrokerID: s.opts.Config.BrokerID,
	}
	var wg sync.WaitGroup
	for _, addr := range addrs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			resp, err := s.nsClient.Invoke(ctx, addr, protocol.NewRequest(protocol.ReqUnregisterBroker, &h, nil))
			if err == nil {
				err = resp.Err()
			}
			if err != nil {
				s.log.Warn("unregister broker failed", "nameserver", addr, "err", err)
				return
			}
			s.log.Info("unregistered from nameserver", "nameserver", addr)
		}()
	}
	wg.Wait()
}
