package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"strings"
	"time"

	bridge "proxmox-hci.invalid/proxmoxve-bridge"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"
)

// engineCheckEvery: how often the engine's health is checked (see main.go).
const engineCheckEvery = time.Second

// engineArg is the index of the engine's address in args, or 0. The engine starts
// plugins as `plugin [flags] ADDRESS` (sdk/go/common/resource/plugin/plugin.go,
// buildPluginArguments): the address comes last, after flags such as -v=9,
// --logtostderr or "--tracing ENDPOINT" (whose value is a separate argument).
func engineArg(args []string) int {
	last := len(args) - 1
	if last < 1 || strings.HasPrefix(args[last], "-") {
		return 0
	}
	if strings.TrimLeft(args[last-1], "-") == "tracing" {
		return 0 // attach mode: the last argument is the tracing endpoint
	}
	return last
}

// exitWhenGone exits the process once the engine at addr stops answering gRPC health
// checks, as rpcutil.Healthcheck judges it (the check upstream's provider main runs,
// every 5 minutes; here every second).
func exitWhenGone(addr string) {
	ctx, gone := context.WithCancel(context.Background())
	if err := rpcutil.Healthcheck(ctx, addr, engineCheckEvery, gone); err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-resource-proxmoxve: cannot watch the engine at %s: %v\n", addr, err)
		os.Exit(1)
	}
	go func() {
		<-ctx.Done()
		os.Exit(1) // nobody is left to report to; a Terraform call in flight ends here
	}()
}

// redactingEngine serves the engine's gRPC service in-process and forwards every call to
// the real engine, Log messages redacted.
type redactingEngine struct {
	pulumirpc.UnimplementedEngineServer
	engine pulumirpc.EngineClient
}

func (e *redactingEngine) Log(ctx context.Context, req *pulumirpc.LogRequest) (*emptypb.Empty, error) {
	clean := proto.Clone(req).(*pulumirpc.LogRequest)
	clean.Message = bridge.Redact(clean.Message)
	return e.engine.Log(ctx, clean)
}

func (e *redactingEngine) GetRootResource(ctx context.Context, req *pulumirpc.GetRootResourceRequest,
) (*pulumirpc.GetRootResourceResponse, error) {
	return e.engine.GetRootResource(ctx, req)
}

func (e *redactingEngine) SetRootResource(ctx context.Context, req *pulumirpc.SetRootResourceRequest,
) (*pulumirpc.SetRootResourceResponse, error) {
	return e.engine.SetRootResource(ctx, req)
}

func (e *redactingEngine) StartDebugging(ctx context.Context, req *pulumirpc.StartDebuggingRequest,
) (*emptypb.Empty, error) {
	return e.engine.StartDebugging(ctx, req)
}

func (e *redactingEngine) RequirePulumiVersion(ctx context.Context, req *pulumirpc.RequirePulumiVersionRequest,
) (*pulumirpc.RequirePulumiVersionResponse, error) {
	return e.engine.RequirePulumiVersion(ctx, req)
}

// serveRedactingEngine starts the proxy for the engine at addr; returns its own address.
func serveRedactingEngine(addr string) (string, error) {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		rpcutil.GrpcChannelOptions())
	if err != nil {
		return "", fmt.Errorf("cannot connect to the engine at %s: %w", addr, err)
	}
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterEngineServer(srv, &redactingEngine{engine: pulumirpc.NewEngineClient(conn)})
			return nil
		},
	})
	if err != nil {
		return "", fmt.Errorf("cannot serve the engine proxy: %w", err)
	}
	return fmt.Sprintf("127.0.0.1:%d", handle.Port), nil
}

// redactStderr sends what this process writes to os.Stderr and through the log package
// (glog with --logtostderr, Go's log, hclog's defaults) through Redact, line by line. The
// runtime's own crash output writes to fd 2 directly and is left alone.
func redactStderr() {
	real := os.Stderr
	r, w, err := os.Pipe()
	if err != nil {
		return // keep the unfiltered stderr rather than none
	}
	os.Stderr = w
	log.SetOutput(w)
	go func() {
		lines := bufio.NewReader(r)
		for {
			line, err := lines.ReadString('\n')
			if line != "" {
				_, _ = io.WriteString(real, bridge.Redact(line))
			}
			if err != nil {
				return
			}
		}
	}()
}
