// Command gorocket-namesrv is gorocket's RocketMQ-compatible nameserver.
//
//	gorocket-namesrv [-n 0.0.0.0:9876] [-c namesrv.properties] [--check-config] [-p]
//	                 [--log-format text|json] [--log-level debug|info|warn|error]
//
// -c reads an Apache RocketMQ namesrv properties file (listenPort, kvConfigPath,
// orderMessageEnable, serverWorkerThreads, ...; format and keys: internal/conf). Unknown
// keys are warned about; bad values are errors with file:line. GOROCKET_<KEY> environment
// variables override the file. -n/--listen overrides the listen address (default: all
// interfaces on listenPort). SIGTERM and SIGINT shut down gracefully.
//
// Exit status: 0 after a clean shutdown or a successful check, 1 on a runtime failure,
// 2 on a usage or configuration error.
//
// Design: main only wires things together (flags, internal/conf loading, slog logger,
// signals); the server is package nameserver. run() takes its arguments, output streams
// and signal channel as parameters so tests drive the whole binary in-process.
package main
