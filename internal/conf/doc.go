// Package conf is the configuration format shared by the gorocket broker and
// nameserver daemons and by the Kubernetes operator, which renders a
// broker's properties into a ConfigMap. It is a leaf package: standard
// library only.
//
// # File format
//
// Configuration files are Java .properties files, as read by
// java.util.Properties.load and by Apache RocketMQ's mqbroker -c / mqnamesrv -c:
//
//   - Lines end in \n, \r\n or \r. A leading UTF-8 byte-order mark is skipped.
//   - A line whose first non-blank character is '#' or '!' is a comment.
//     Blank lines are ignored. Leading blanks (space, tab, form feed) are
//     skipped.
//   - key=value, key:value and "key value" are equivalent; blanks around the
//     separator are skipped.
//   - A line ending in an odd number of backslashes continues on the next
//     line, whose leading blanks are skipped.
//   - Escapes: \t \n \r \f, \uXXXX (surrogate pairs are combined), and a
//     backslash before any other character stands for that character
//     (\\ \= \: \# \! \space). A backslash before an ordinary letter, as in a
//     Windows path C:\store, is dropped as Java drops it, with a Warning.
//   - Unlike Java, unescaped trailing blanks are trimmed from values (a
//     trailing "\ " keeps one), and the file is read as UTF-8, not
//     ISO-8859-1. Render escapes non-ASCII as \uXXXX, so its output means the
//     same to Java.
//   - A malformed \uXXXX escape is the only syntax error. A key given twice
//     keeps its last value (as in Java) and yields a Warning.
//
// Keys are case-sensitive. An unknown key is a Warning (suggesting the right
// spelling when only the case differs), not an error, so files written for
// Java RocketMQ with tuning keys gorocket does not know still load. An
// invalid value is an *Error located as "file:line: key: message"; a parse
// collects every error into an ErrorList instead of stopping at the first.
// Values are checked more strictly than Java does: booleans must be true or
// false (Java reads anything else as false), enums must be one of their
// values (case-insensitive), ranges that Java silently clamps
// (diskMaxUsedSpaceRatio 10..95, registerNameServerPeriod 10000..60000) are
// rejected outside the range.
//
// BrokerKeys and NamesrvKeys list every accepted key with its type, unit,
// default, environment variable and a one-line description; defaults are
// those of Apache RocketMQ 4.9 unless the description says otherwise.
//
// # Loading a daemon's configuration
//
//	cfg, warns, err := conf.LoadBroker(path) // defaults, then the file
//	envWarns, envErr := cfg.ApplyEnv(os.LookupEnv)
//	// set cfg.BrokerIP1 if empty (first non-loopback IPv4), then:
//	cfg = cfg.Resolve(hostname, homeDir)
//	err = cfg.Validate()
//
// Values that depend on the machine are "auto" in DefaultBroker (empty
// strings, zero ports and thread-pool sizes), so that the operator renders
// the same file wherever it runs; Resolve fills them in the daemon.
//
// # Environment overrides
//
// ApplyEnv reads, for every key, the variable GOROCKET_ followed by the key
// in upper snake case (EnvName): brokerName -> GOROCKET_BROKER_NAME,
// brokerIP1 -> GOROCKET_BROKER_IP1, haListenPort -> GOROCKET_HA_LISTEN_PORT,
// dLegerPeers -> GOROCKET_D_LEGER_PEERS. KeyInfo.Env gives the exact name.
// Only canonical key names have variables, not aliases. A GOROCKET_
// variable overrides the file. Errors name the variable
// ("env GOROCKET_LISTEN_PORT: listenPort: invalid value ...").
//
// As in Apache RocketMQ, the broker also reads NAMESRV_ADDR and the
// nameserver ROCKETMQ_HOME, but only as a fallback when namesrvAddr
// (rocketmqHome) is still empty after the file and the GOROCKET_ variables;
// an ignored NAMESRV_ADDR yields a Warning. The broker and the nameserver use
// the same prefix, so variables such as GOROCKET_LISTEN_PORT apply to
// whichever daemon runs in the environment.
//
// # Differences from Apache RocketMQ 4.9 and gorocket extensions
//
// Keys marked KeyInfo.Extension:
//
//   - storePathConsumeQueue, storePathIndex, storeCheckpoint, abortFile: set
//     by the deployment guides; Java 4.x ignores them and derives the paths
//     from storePathRootDir. gorocket honours them. Likewise
//     storePathCommitLog defaults to <storePathRootDir>/commitlog, where Java
//     uses $HOME/store/commitlog whatever the root.
//   - checkTransactionMessageEnable: a RocketMQ 3.x key kept (commented out)
//     in the guides; false disables transaction check-back.
//   - nameserver scanNotActiveBrokerInterval (default 10s) and
//     brokerChannelExpiredTime (default 120s): durations ("10s", "2m", or a
//     bare integer of milliseconds); Java hard-codes both.
//
// Other differences:
//
//   - mappedFileSizeCommitLog and mappedFileSizeConsumeQueue are RocketMQ
//     4.9's names; the guides' older spellings mapedFileSizeCommitLog and
//     mapedFileSizeConsumeQueue are accepted as aliases (Java 4.9 silently
//     ignores them). mappedFileSizeConsumeQueue is in BYTES and must be a
//     multiple of 20: the default 6000000 holds 300,000 entries, and the
//     guides' value 300000 means 15,000 entries per file.
//   - haListenPort: Java forces listenPort+1; gorocket uses an explicit
//     value and defaults to listenPort+1.
//   - enableDLegerCommitLog with dLegerGroup, dLegerPeers, dLegerSelfId are
//     accepted and validated (group set, peers "id-host:port;...", self id
//     among the peers; brokerId/brokerRole are then not checked). Whether
//     DLedger mode is implemented is up to the broker, which must refuse it
//     clearly if not.
package conf
