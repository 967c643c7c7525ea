// pulumi-language-python: a minimal Pulumi language host for Python programs.
//
// Why this exists: the upstream host lives in its own Go module
// (github.com/pulumi/pulumi/sdk/python/cmd/pulumi-language-python/v3) which the
// Go module proxy reachable here refuses to serve. Everything it needs is in the
// served sdk/v3 module: the gRPC contract (proto/go), interpreter/virtualenv
// resolution (python/toolchain) and the Python-side runner script
// (python/cmd/pulumi-language-python-exec), which is installed beside this binary.
//
// Implemented: Handshake, GetPluginInfo, GetRequiredPlugins/Packages, Run,
// RunPlugin (policy packs and Python plugins, as upstream's host runs them),
// InstallDependencies, About, GetProgramDependencies. Not implemented
// (Unimplemented): code generation, Pack, Template, Link, RuntimeOptionsPrompts;
// the "typechecker" option; attaching a debugger.
//
// The host exits when the engine dies. The engine runs plugins in process groups
// of their own, so a SIGKILL of `pulumi` (CI cancel) reaches none of them; like
// upstream's hosts we health-check the engine's address (rpcutil.Healthcheck) and
// stop when it fails, killing a program still running (exec.CommandContext).
// Upstream checks every 5 minutes; we check every second (engineCheckEvery), so
// nothing of a killed run is left seconds later, for one tiny loopback RPC a second.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/blang/semver"
	sdk "github.com/pulumi/pulumi/sdk/v3"
	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	"github.com/pulumi/pulumi/sdk/v3/go/common/version"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"github.com/pulumi/pulumi/sdk/v3/python/toolchain"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"
)

// The runner script; like upstream, it must sit beside this executable's real path.
const execName = "pulumi-language-python-exec"

// Exit code the runner uses after it has already shown the user an error.
const bailExitCode = 32

// How often the engine's health is checked (see the package comment).
const engineCheckEvery = time.Second

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "pulumi-language-python: "+format+"\n", args...)
	os.Exit(1)
}

func main() {
	// Flags upstream accepts; the engine passes none of them today.
	tracing := flag.String("tracing", "", "Zipkin-compatible tracing endpoint (passed to the runner)")
	executor := flag.String("use-executor", "", "use this runner script instead of the one beside the binary")
	_ = flag.String("root", "", "ignored (compatibility)")
	_ = flag.String("virtualenv", "", "ignored (compatibility; the engine sends runtime options per request)")
	flag.Parse()

	execPath := *executor
	if execPath == "" {
		self, err := os.Executable()
		if err == nil {
			self, err = filepath.EvalSymlinks(self)
		}
		if err != nil {
			fatalf("could not determine own executable: %v", err)
		}
		execPath = filepath.Join(filepath.Dir(self), execName)
	}
	if _, err := os.Stat(execPath); err != nil {
		fatalf("missing executor %s", execPath)
	}

	// engineCtx ends when the engine stops answering: the server stops, and Run's
	// program is killed through its command's context.
	engineCtx, engineGone := context.WithCancel(context.Background())
	defer engineGone()
	stop := make(chan bool)
	go func() {
		<-engineCtx.Done()
		close(stop)
	}()
	if addr := flag.Arg(0); addr != "" {
		if err := rpcutil.Healthcheck(engineCtx, addr, engineCheckEvery, engineGone); err != nil {
			fatalf("could not start the engine health check: %v", err)
		}
	}

	host := &pythonHost{engineAddress: flag.Arg(0), exec: execPath, tracing: *tracing, engineCtx: engineCtx}
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Cancel: stop,
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(srv, host)
			return nil
		},
	})
	if err != nil {
		fatalf("could not start language host RPC server: %v", err)
	}
	// The engine closes a plugin with SIGINT to its process group (cmdutil.InterruptChildren in
	// sdk/go/common/util/cmdutil/child_unix.go), then waits up to 5 s before it kills it
	// (sdk/go/common/resource/plugin/plugin.go). A Go program started with SIGINT ignored keeps it
	// ignored unless it asks for the signal, and every process started from a background job of a
	// non-interactive shell (`cmd &` in a CI script) is started so: each `pulumi preview` and `up`
	// then waited those 5 s for the host it starts for About(). Asking for it ends the host either way.
	interrupted := make(chan os.Signal, 1)
	signal.Notify(interrupted, os.Interrupt)
	// Leaving early: Run's program is killed with Run's context (engineCtx) and the server stops
	// gracefully; give that a moment, never more.
	leave := func(code int, grace time.Duration) {
		engineGone()
		select {
		case <-handle.Done:
		case <-time.After(grace):
		}
		os.Exit(code)
	}
	// The engine reads the port from our first stdout line.
	fmt.Printf("%d\n", handle.Port)
	select {
	case err := <-handle.Done:
		if err != nil {
			fatalf("language host RPC stopped serving: %v", err)
		}
	case <-interrupted:
		leave(0, time.Second) // as Go's default for SIGINT would: end now
	case <-engineCtx.Done():
		leave(1, 5*time.Second) // the engine is gone
	}
}

type pythonHost struct {
	pulumirpc.UnimplementedLanguageRuntimeServer

	mu            sync.Mutex
	engineAddress string
	exec          string
	tracing       string
	engineCtx     context.Context // done once the engine no longer answers
}

func (h *pythonHost) Handshake(_ context.Context,
	req *pulumirpc.LanguageHandshakeRequest,
) (*pulumirpc.LanguageHandshakeResponse, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if req.GetEngineAddress() != "" {
		h.engineAddress = req.GetEngineAddress()
	}
	return &pulumirpc.LanguageHandshakeResponse{}, nil
}

func (h *pythonHost) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: version.Version}, nil
}

// resolveToolchain maps Pulumi.yaml `runtime.options` (virtualenv, toolchain) to
// the SDK's toolchain, exactly the inputs the upstream host uses.
func resolveToolchain(info *pulumirpc.ProgramInfo) (toolchain.Toolchain, error) {
	return resolveToolchainFor(info, false)
}

// resolveToolchainFor is resolveToolchain for programs (isPlugin false) or plugins. As upstream's
// parseOptions: a plugin (but not a policy pack) with the pip toolchain and no virtualenv gets
// "venv", since plugins never run in the ambient Python.
func resolveToolchainFor(info *pulumirpc.ProgramInfo, isPlugin bool) (toolchain.Toolchain, error) {
	if info == nil {
		return nil, errors.New("the engine sent no program info (CLI too old for this language host?)")
	}
	opts := toolchain.PythonOptions{
		Root:       info.GetRootDirectory(),
		ProgramDir: info.GetProgramDirectory(),
	}
	options := info.GetOptions().AsMap()
	if v, ok := options["virtualenv"].(string); ok {
		opts.Virtualenv = v
	}
	switch tc, _ := options["toolchain"].(string); tc {
	case "":
		opts.Toolchain = toolchain.Auto
	case "pip":
		opts.Toolchain = toolchain.Pip
	case "poetry":
		opts.Toolchain = toolchain.Poetry
	case "uv":
		opts.Toolchain = toolchain.Uv
	default:
		return nil, fmt.Errorf("unsupported runtime option toolchain=%q", tc)
	}
	if tcName, _ := options["typechecker"].(string); tcName != "" {
		return nil, fmt.Errorf("runtime option typechecker=%q is not supported by this language host", tcName)
	}
	if isPlugin && (opts.Toolchain == toolchain.Pip || opts.Toolchain == toolchain.Auto) && opts.Virtualenv == "" {
		opts.Virtualenv = "venv"
	}
	return toolchain.ResolveToolchain(opts)
}

// Run executes the program through the runner script, with the interpreter of
// the project's virtualenv/toolchain.
func (h *pythonHost) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	// The program dies with the call (the engine dropped it) or with the engine.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stopWithEngine := context.AfterFunc(h.engineCtx, cancel)
	defer stopWithEngine()

	tc, err := resolveToolchain(req.GetInfo())
	if err != nil {
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}
	if err := tc.ValidateVenv(ctx); err != nil {
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}

	h.mu.Lock()
	engine := h.engineAddress
	h.mu.Unlock()

	args := []string{"-u", h.exec,
		"--monitor", req.GetMonitorAddress(),
		"--engine", engine,
		"--project", req.GetProject(),
		"--stack", req.GetStack(),
		"--pwd", req.GetPwd(),
		"--dry_run", strconv.FormatBool(req.GetDryRun()),
		"--parallel", strconv.Itoa(int(req.GetParallel())),
	}
	if org := req.GetOrganization(); org != "" {
		args = append(args, "--organization", org)
	}
	if root := req.GetInfo().GetRootDirectory(); root != "" {
		args = append(args, "--root_directory", root)
	}
	if h.tracing != "" {
		args = append(args, "--tracing", h.tracing)
	}
	program := req.GetProgram() //nolint:staticcheck // the engine still fills it with the entry point
	if program == "" {
		program = "."
	}
	args = append(args, program)
	args = append(args, req.GetArgs()...)

	// The runner expects a JSON object and a JSON list (never null).
	config := req.GetConfig()
	if config == nil {
		config = map[string]string{}
	}
	keys := req.GetConfigSecretKeys()
	if keys == nil {
		keys = []string{}
	}
	cfg, err := json.Marshal(config)
	if err != nil {
		return nil, fmt.Errorf("serializing config: %w", err)
	}
	secretKeys, err := json.Marshal(keys)
	if err != nil {
		return nil, fmt.Errorf("serializing config secret keys: %w", err)
	}

	cmd, err := tc.Command(ctx, args...)
	if err != nil {
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}
	if cmd.Env == nil {
		cmd.Env = os.Environ()
	}
	cmd.Env = append(cmd.Env, "PULUMI_CONFIG="+string(cfg), "PULUMI_CONFIG_SECRET_KEYS="+string(secretKeys))
	cmd.Dir = req.GetPwd()
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr

	if err := cmd.Run(); err != nil {
		var exitErr *exec.ExitError
		switch {
		case errors.As(err, &exitErr) && exitErr.ExitCode() == bailExitCode:
			return &pulumirpc.RunResponse{Bail: true}, nil
		case errors.As(err, &exitErr):
			return &pulumirpc.RunResponse{
				Error: fmt.Sprintf("Program exited with non-zero exit code: %d", exitErr.ExitCode()),
			}, nil
		default:
			return &pulumirpc.RunResponse{
				Error: fmt.Sprintf("Problem executing program (could not run language executor): %v", err),
			}, nil
		}
	}
	return &pulumirpc.RunResponse{}, nil
}

// listPluginsScript prints, as JSON, every installed distribution that ships a
// pulumi-plugin.json (how Pulumi SDK packages declare their provider plugin).
const listPluginsScript = `
import json, importlib.metadata as md
out = []
for d in md.distributions():
    files = [f for f in (d.files or []) if f.name in ("pulumi-plugin.json", "pulumiplugin.json")]
    if not files:
        continue
    f = min(files, key=lambda p: len(p.parts))
    try:
        data = json.loads(f.read_text())
    except Exception:
        continue
    out.append({"package": d.metadata.get("Name") or "", "version": d.version, "plugin": data})
print(json.dumps(out))
`

type installedPlugin struct {
	Package string                  `json:"package"`
	Version string                  `json:"version"`
	Plugin  plugin.PulumiPluginJSON `json:"plugin"`
}

func paramOf(p *plugin.PulumiParameterizationJSON) *pulumirpc.PackageParameterization {
	if p == nil {
		return nil
	}
	return &pulumirpc.PackageParameterization{Name: p.Name, Version: p.Version, Value: p.Value}
}

func (h *pythonHost) requiredPackages(ctx context.Context, info *pulumirpc.ProgramInfo,
) ([]*pulumirpc.PackageDependency, error) {
	tc, err := resolveToolchain(info)
	if err != nil {
		return nil, err
	}
	if err := tc.ValidateVenv(ctx); err != nil {
		return nil, err
	}
	cmd, err := tc.Command(ctx, "-c", listPluginsScript)
	if err != nil {
		return nil, err
	}
	cmd.Dir = info.GetProgramDirectory()
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("listing installed Pulumi packages: %w", err)
	}
	var found []installedPlugin
	if err := json.Unmarshal(out, &found); err != nil {
		return nil, fmt.Errorf("parsing installed Pulumi packages: %w", err)
	}

	var deps []*pulumirpc.PackageDependency
	for _, f := range found {
		if !f.Plugin.Resource {
			continue
		}
		name := f.Plugin.Name
		if name == "" {
			name = strings.ReplaceAll(strings.ToLower(f.Package), "_", "-")
			name = strings.TrimPrefix(name, "pulumi-")
		}
		ver := f.Plugin.Version
		if ver == "" {
			// PEP 440 pre-releases (e.g. 1.2.3a123) do not map to a plugin
			// version; skip them like upstream does.
			if _, err := semver.Parse(f.Version); err != nil {
				continue
			}
			ver = f.Version
		}
		if !strings.HasPrefix(ver, "v") {
			ver = "v" + ver
		}
		deps = append(deps, &pulumirpc.PackageDependency{
			Kind:             "resource",
			Name:             name,
			Version:          ver,
			Server:           f.Plugin.Server,
			Parameterization: paramOf(f.Plugin.Parameterization),
			Extension:        paramOf(f.Plugin.ExtensionParameterization),
		})
	}
	return deps, nil
}

func (h *pythonHost) GetRequiredPackages(ctx context.Context,
	req *pulumirpc.GetRequiredPackagesRequest,
) (*pulumirpc.GetRequiredPackagesResponse, error) {
	deps, err := h.requiredPackages(ctx, req.GetInfo())
	if err != nil {
		return nil, err
	}
	return &pulumirpc.GetRequiredPackagesResponse{Packages: deps}, nil
}

func (h *pythonHost) GetRequiredPlugins(ctx context.Context,
	req *pulumirpc.GetRequiredPluginsRequest,
) (*pulumirpc.GetRequiredPluginsResponse, error) {
	deps, err := h.requiredPackages(ctx, req.GetInfo())
	if err != nil {
		return nil, err
	}
	var plugins []*pulumirpc.PluginDependency
	for _, d := range deps {
		if d.Parameterization != nil || d.Extension != nil {
			continue // cannot be expressed as a plain plugin dependency
		}
		plugins = append(plugins, &pulumirpc.PluginDependency{
			Kind: d.Kind, Name: d.Name, Version: d.Version, Server: d.Server,
		})
	}
	return &pulumirpc.GetRequiredPluginsResponse{Plugins: plugins}, nil
}

// streamWriter forwards install output to the engine; stdout and stderr share
// one gRPC stream, hence the lock.
type streamWriter struct {
	mu     *sync.Mutex
	send   func(*pulumirpc.InstallDependenciesResponse) error
	stderr bool
}

func (w streamWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	b := append([]byte(nil), p...)
	resp := &pulumirpc.InstallDependenciesResponse{Stdout: b}
	if w.stderr {
		resp = &pulumirpc.InstallDependenciesResponse{Stderr: b}
	}
	if err := w.send(resp); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (h *pythonHost) InstallDependencies(req *pulumirpc.InstallDependenciesRequest,
	server grpc.ServerStreamingServer[pulumirpc.InstallDependenciesResponse],
) error {
	tc, err := resolveToolchain(req.GetInfo())
	if err != nil {
		return err
	}
	dir := req.GetInfo().GetProgramDirectory()
	if dir == "" {
		dir = req.GetDirectory()
	}
	var mu sync.Mutex
	stdout := streamWriter{mu: &mu, send: server.Send}
	stderr := streamWriter{mu: &mu, send: server.Send, stderr: true}
	return tc.InstallDependencies(server.Context(), dir, req.GetUseLanguageVersionTools(),
		true /*showOutput*/, stdout, stderr)
}

func (h *pythonHost) About(ctx context.Context, req *pulumirpc.AboutRequest) (*pulumirpc.AboutResponse, error) {
	tc, err := resolveToolchain(req.GetInfo())
	if err != nil {
		return nil, err
	}
	info, err := tc.About(ctx)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.AboutResponse{
		Executable: info.PythonExecutable,
		Version:    info.PythonVersion.String(),
	}, nil
}

func (h *pythonHost) GetProgramDependencies(ctx context.Context,
	req *pulumirpc.GetProgramDependenciesRequest,
) (*pulumirpc.GetProgramDependenciesResponse, error) {
	tc, err := resolveToolchain(req.GetInfo())
	if err != nil {
		return nil, err
	}
	pkgs, err := tc.ListPackages(ctx, req.GetTransitiveDependencies())
	if err != nil {
		return nil, err
	}
	deps := make([]*pulumirpc.DependencyInfo, 0, len(pkgs))
	for _, p := range pkgs {
		deps = append(deps, &pulumirpc.DependencyInfo{Name: p.Name, Version: p.Version})
	}
	return &pulumirpc.GetProgramDependenciesResponse{Dependencies: deps}, nil
}

// RunPlugin runs a Python plugin or policy pack, as upstream's host does
// (pulumi/pulumi sdk/python/cmd/pulumi-language-python/main.go, RunPlugin):
//
//   - a policy pack (kind "analyzer") runs as `python -u -m pulumi.policy ARGS PACK_DIR` in the
//     pack's directory. The pulumi-policy library predates the engine's ConfigureStack call, so
//     sdk.PolicyProxy answers the engine's first calls itself, learns the stack's organization,
//     project, stack, dry-run flag and config, starts the pack with them in its environment
//     (PULUMI_ORGANIZATION, PULUMI_PROJECT, PULUMI_STACK, PULUMI_DRY_RUN, PULUMI_CONFIG) and
//     then proxies every request, ConfigureStack with the stack's tags included, to the pack;
//   - any other plugin runs its __main__.py (`python PLUGIN_DIR ARGS`) in the engine's working
//     directory, or `python -m pulumi.run.plugin NAME ARGS` for a buildable package without one.
//
// Output goes back on the gRPC stream; a non-zero exit is reported as the plugin's exit code.
func (h *pythonHost) RunPlugin(req *pulumirpc.RunPluginRequest, server pulumirpc.LanguageRuntime_RunPluginServer) error {
	// The plugin dies with the call or with the engine, as Run's program does.
	ctx, cancel := context.WithCancel(server.Context())
	defer cancel()
	stopWithEngine := context.AfterFunc(h.engineCtx, cancel)
	defer stopWithEngine()
	if req.GetAttachDebugger() {
		return errors.New("attaching a debugger to a plugin is not supported by this language host")
	}
	info := req.GetInfo()
	isAnalyzer := req.GetKind() == string(apitype.AnalyzerPlugin)
	tc, err := resolveToolchainFor(info, !isAnalyzer)
	if err != nil {
		return err
	}

	var cmd *exec.Cmd
	if isAnalyzer {
		args := append([]string{"-u", "-m", "pulumi.policy"}, req.GetArgs()...)
		cmd, err = tc.Command(ctx, append(args, info.GetProgramDirectory())...)
	} else {
		cmd, err = h.pluginCommand(ctx, tc, info, req.GetArgs())
	}
	if err != nil {
		return err
	}

	closer, stdout, stderr, err := rpcutil.MakeRunPluginStreams(server, false)
	if err != nil {
		return err
	}
	defer closer.Close()

	if cmd.Env == nil {
		cmd.Env = os.Environ()
	}
	var proxy *sdk.PolicyProxy
	if isAnalyzer {
		// Policy packs have always run in their own directory (their PulumiPolicy.yaml and venv).
		cmd.Dir = info.GetProgramDirectory()
		proxy, stdout, err = sdk.NewPolicyProxy(ctx, stdout)
		if err != nil {
			return fmt.Errorf("could not start the policy pack proxy: %w", err)
		}
		config, err := proxy.AwaitConfiguration(ctx)
		if err != nil {
			return fmt.Errorf("could not get the stack configuration for the policy pack: %w", err)
		}
		if config != nil {
			env, err := policyPackEnv(config)
			if err != nil {
				return err
			}
			cmd.Env = append(cmd.Env, env...)
		}
	} else {
		cmd.Dir = req.GetPwd()
	}
	cmd.Env = append(cmd.Env, req.GetEnv()...)
	cmd.Stdout, cmd.Stderr = stdout, stderr

	if err := cmd.Start(); err != nil {
		if proxy != nil {
			proxy.Abort(err)
		}
		return fmt.Errorf("problem executing plugin program (could not run language executor): %w", err)
	}
	if proxy != nil {
		err = proxy.Attach(ctx, cmd) // returns once the pack exits
	} else {
		err = cmd.Wait()
	}
	if err != nil {
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			if status, ok := exitErr.Sys().(syscall.WaitStatus); ok {
				return server.Send(&pulumirpc.RunPluginResponse{
					Output: &pulumirpc.RunPluginResponse_Exitcode{Exitcode: int32(status.ExitStatus())},
				})
			}
		}
		return fmt.Errorf("plugin program failed: %w", err)
	}
	return closer.Close()
}

// pluginCommand: the plugin's __main__.py, or pulumi.run.plugin for a buildable package.
func (h *pythonHost) pluginCommand(ctx context.Context, tc toolchain.Toolchain, info *pulumirpc.ProgramInfo,
	args []string,
) (*exec.Cmd, error) {
	root := info.GetRootDirectory()
	if _, err := os.Stat(filepath.Join(root, "__main__.py")); err == nil {
		return tc.Command(ctx, append([]string{info.GetProgramDirectory()}, args...)...)
	} else if !os.IsNotExist(err) {
		return nil, fmt.Errorf("looking for __main__.py: %w", err)
	}
	buildable, err := toolchain.IsBuildablePackage(root)
	if err != nil {
		return nil, fmt.Errorf("checking if plugin is a buildable package: %w", err)
	}
	if !buildable {
		return nil, errors.New("plugin is not runnable, it provides neither __main__.py nor a buildable pyproject.toml")
	}
	pyproject, err := toolchain.LoadPyproject(root)
	if err != nil {
		return nil, fmt.Errorf("loading pyproject: %w", err)
	}
	if pyproject.Project == nil || pyproject.Project.Name == "" {
		return nil, errors.New("plugin's pyproject.toml has no [project] name")
	}
	return tc.ModuleCommand(ctx, "pulumi.run.plugin", append([]string{pyproject.Project.Name}, args...)...)
}

// policyPackEnv: what pulumi-policy reads from its environment to configure the Pulumi runtime.
func policyPackEnv(config *pulumirpc.AnalyzerStackConfigureRequest) ([]string, error) {
	var env []string
	add := func(key, value string) {
		if value != "" {
			env = append(env, key+"="+value)
		}
	}
	add("PULUMI_ORGANIZATION", config.GetOrganization())
	add("PULUMI_PROJECT", config.GetProject())
	add("PULUMI_STACK", config.GetStack())
	add("PULUMI_DRY_RUN", strconv.FormatBool(config.GetDryRun()))
	if config.GetConfig() != nil {
		data, err := json.Marshal(config.GetConfig())
		if err != nil {
			return nil, fmt.Errorf("serializing the stack configuration for the policy pack: %w", err)
		}
		add("PULUMI_CONFIG", string(data))
	}
	return env, nil
}
