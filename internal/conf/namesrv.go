package conf

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"
)

// NamesrvConfig is the nameserver's configuration: Apache RocketMQ 4.9
// NamesrvConfig and NettyServerConfig keys under the same names, plus two
// gorocket extension keys for the broker-expiry timers.
type NamesrvConfig struct {
	ListenPort                      int    // listenPort
	RocketmqHome                    string // rocketmqHome; "" = $ROCKETMQ_HOME (ApplyEnv)
	KvConfigPath                    string // kvConfigPath; "" = $HOME/namesrv/kvConfig.json (Resolve)
	ConfigStorePath                 string // configStorePath; "" = $HOME/namesrv/namesrv.properties (Resolve)
	OrderMessageEnable              bool   // orderMessageEnable
	ServerWorkerThreads             int    // serverWorkerThreads
	ServerSelectorThreads           int    // serverSelectorThreads
	ServerCallbackExecutorThreads   int    // serverCallbackExecutorThreads; 0 = auto
	ServerChannelMaxIdleTimeSeconds int    // serverChannelMaxIdleTimeSeconds, s

	// gorocket extensions (Java hard-codes 10 s and 120 s).
	ScanNotActiveBrokerInterval time.Duration // scanNotActiveBrokerInterval
	BrokerChannelExpiredTime    time.Duration // brokerChannelExpiredTime
}

// DefaultNamesrv returns the defaults (Apache RocketMQ 4.9's; machine-
// dependent paths are left empty, see Resolve).
func DefaultNamesrv() NamesrvConfig {
	return NamesrvConfig{
		ListenPort:                      9876,
		ServerWorkerThreads:             8,
		ServerSelectorThreads:           3,
		ServerChannelMaxIdleTimeSeconds: 120,
		ScanNotActiveBrokerInterval:     10 * time.Second,
		BrokerChannelExpiredTime:        120 * time.Second,
	}
}

var namesrvRegistry = newRegistry(DefaultNamesrv(), []keyDef[NamesrvConfig]{
	intKey("listenPort", func(c *NamesrvConfig) *int { return &c.ListenPort }, 1, 65535,
		"Remoting port for clients, brokers and admin tools."),
	strKey("rocketmqHome", func(c *NamesrvConfig) *string { return &c.RocketmqHome },
		"Installation directory; empty = $ROCKETMQ_HOME. Informational for gorocket."),
	strKey("kvConfigPath", func(c *NamesrvConfig) *string { return &c.KvConfigPath },
		"File persisting the KV config (e.g. ORDER_TOPIC_CONFIG); empty = $HOME/namesrv/kvConfig.json."),
	strKey("configStorePath", func(c *NamesrvConfig) *string { return &c.ConfigStorePath },
		"File persisting config changed at runtime (UPDATE_NAMESRV_CONFIG); empty = $HOME/namesrv/namesrv.properties."),
	boolKey("orderMessageEnable", func(c *NamesrvConfig) *bool { return &c.OrderMessageEnable },
		"Return the ORDER_TOPIC_CONFIG KV entry in topic routes (orderTopicConf)."),
	intKey("serverWorkerThreads", func(c *NamesrvConfig) *int { return &c.ServerWorkerThreads }, 1, 1024,
		"Concurrent request handlers."),
	intKey("serverSelectorThreads", func(c *NamesrvConfig) *int { return &c.ServerSelectorThreads }, 1, 1024,
		"Network I/O threads (Java Netty selectors); a hint for gorocket."),
	intKey("serverCallbackExecutorThreads", func(c *NamesrvConfig) *int { return &c.ServerCallbackExecutorThreads }, 0, 1024,
		"Callback executor size; 0 = 4 (Java's fallback).").auto(),
	intKey("serverChannelMaxIdleTimeSeconds", func(c *NamesrvConfig) *int { return &c.ServerChannelMaxIdleTimeSeconds }, 1, maxInt32,
		"Close connections idle in both directions for this long; a broker's registration connection closing evicts it.").unit("s"),
	durKey("scanNotActiveBrokerInterval", func(c *NamesrvConfig) *time.Duration { return &c.ScanNotActiveBrokerInterval }, time.Millisecond,
		"gorocket extension: interval of the scan that evicts brokers not heard from for brokerChannelExpiredTime (Java: fixed 10s).").ext(),
	durKey("brokerChannelExpiredTime", func(c *NamesrvConfig) *time.Duration { return &c.BrokerChannelExpiredTime }, time.Millisecond,
		"gorocket extension: a broker whose last registration is older than this is evicted (Java: fixed 120s).").ext(),
})

// NamesrvKeys returns every accepted nameserver key, in Render order.
func NamesrvKeys() []KeyInfo { return namesrvRegistry.infos() }

// ParseNamesrv parses a nameserver properties file over DefaultNamesrv(),
// with the same error and warning rules as ParseBroker.
func ParseNamesrv(r io.Reader, filename string) (NamesrvConfig, []Warning, error) {
	c := DefaultNamesrv()
	w, err := namesrvRegistry.parse(&c, r, filename)
	return c, w, err
}

// LoadNamesrv is ParseNamesrv on the file at path (I/O errors as in
// LoadBroker).
func LoadNamesrv(path string) (NamesrvConfig, []Warning, error) {
	c := DefaultNamesrv()
	w, err := namesrvRegistry.load(&c, path)
	return c, w, err
}

// Set assigns one key from its properties-syntax value (see BrokerConfig.Set).
func (c *NamesrvConfig) Set(key, value string) error {
	if err := namesrvRegistry.set(c, key, value); err != nil {
		return err
	}
	return nil
}

// Get returns the value of key in properties syntax.
func (c *NamesrvConfig) Get(key string) (string, bool) { return namesrvRegistry.get(c, key) }

// ApplyEnv applies GOROCKET_<UPPER_SNAKE key> overrides (see
// BrokerConfig.ApplyEnv), then uses ROCKETMQ_HOME for rocketmqHome when it
// is still empty, as Apache RocketMQ does. It returns no warnings today; the
// slice is there for symmetry with BrokerConfig.ApplyEnv.
func (c *NamesrvConfig) ApplyEnv(lookup func(string) (string, bool)) ([]Warning, error) {
	err := namesrvRegistry.applyEnv(c, lookup)
	if v, ok := lookup("ROCKETMQ_HOME"); ok && c.RocketmqHome == "" {
		c.RocketmqHome = strings.TrimSpace(v)
	}
	return nil, err
}

// Validate checks every value and the cross-field rules.
func (c NamesrvConfig) Validate() error {
	errs := namesrvRegistry.checkAll(&c)
	if c.ScanNotActiveBrokerInterval > 0 && c.BrokerChannelExpiredTime > 0 &&
		c.ScanNotActiveBrokerInterval > c.BrokerChannelExpiredTime {
		errs = append(errs, &Error{Key: "scanNotActiveBrokerInterval",
			Msg: fmt.Sprintf("%s is longer than brokerChannelExpiredTime %s", c.ScanNotActiveBrokerInterval, c.BrokerChannelExpiredTime)})
	}
	if c.KvConfigPath != "" && c.ConfigStorePath != "" && filepath.Clean(c.KvConfigPath) == filepath.Clean(c.ConfigStorePath) {
		errs = append(errs, &Error{Key: "configStorePath", Msg: fmt.Sprintf("same path %q as kvConfigPath", c.ConfigStorePath)})
	}
	return errs.Err()
}

// Resolve returns a copy with the empty paths filled in under homeDir:
// kvConfigPath = homeDir/namesrv/kvConfig.json and configStorePath =
// homeDir/namesrv/namesrv.properties.
func (c NamesrvConfig) Resolve(homeDir string) NamesrvConfig {
	if c.KvConfigPath == "" {
		c.KvConfigPath = filepath.Join(homeDir, "namesrv", "kvConfig.json")
	}
	if c.ConfigStorePath == "" {
		c.ConfigStorePath = filepath.Join(homeDir, "namesrv", "namesrv.properties")
	}
	return c
}

// Render writes c as deterministic properties text (fixed NamesrvKeys
// order) that ParseNamesrv reads back to an equal config.
func (c NamesrvConfig) Render() []byte {
	return namesrvRegistry.render(&c, "# gorocket nameserver configuration (generated; keys: internal/conf NamesrvKeys)\n")
}
