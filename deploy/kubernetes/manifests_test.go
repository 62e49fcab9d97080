// Package kubernetes holds the manifests that run billcons on a cluster;
// its test decodes them strictly, so a typo fails CI instead of a night.
package kubernetes

import (
	"bytes"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// strict decodes one YAML document into v, refusing unknown fields.
func strict(doc []byte, v any) error {
	j, err := yaml.YAMLToJSON(doc)
	if err != nil {
		return err
	}
	d := json.NewDecoder(bytes.NewReader(j))
	d.DisallowUnknownFields()
	return d.Decode(v)
}

func documents(t *testing.T, name string) [][]byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	var docs [][]byte
	for _, d := range bytes.Split(b, []byte("\n---\n")) {
		if len(bytes.TrimSpace(d)) > 0 {
			docs = append(docs, d)
		}
	}
	return docs
}

var steps = []string{"plan", "split", "shard", "commit"}

// TestJobs decodes jobs.yaml into the Kubernetes API types and checks the
// shape the commit protocol relies on: split and shard are Indexed Jobs
// with per-index retries, every container runs one billcons step.
func TestJobs(t *testing.T) {
	seen := map[string]bool{}
	for _, doc := range documents(t, "jobs.yaml") {
		var meta metav1.TypeMeta
		if err := yaml.Unmarshal(doc, &meta); err != nil {
			t.Fatal(err)
		}
		switch meta.Kind {
		case "ConfigMap":
			var cm corev1.ConfigMap
			if err := strict(doc, &cm); err != nil {
				t.Fatalf("ConfigMap: %v", err)
			}
			sameStore(t, "jobs.yaml", cm.Data["OUT"], cm.Data)
		case "CronJob":
			var cj batchv1.CronJob
			if err := strict(doc, &cj); err != nil {
				t.Fatalf("CronJob: %v", err)
			}
			c := cj.Spec.JobTemplate.Spec.Template.Spec.Containers
			if len(c) != 1 || len(c[0].Args) < 2 || c[0].Args[0] != "gc" || c[0].Args[1] != "$(OUT)" {
				t.Fatalf("cron job %s: want one container running billcons gc $(OUT)", cj.Name)
			}
			if cj.Spec.ConcurrencyPolicy != batchv1.ForbidConcurrent {
				t.Errorf("cron job %s: concurrencyPolicy %q; want Forbid", cj.Name, cj.Spec.ConcurrencyPolicy)
			}
			seen["gc"] = true
		case "Job":
			var job batchv1.Job
			if err := strict(doc, &job); err != nil {
				t.Fatalf("Job: %v", err)
			}
			c := job.Spec.Template.Spec.Containers
			if len(c) != 1 || len(c[0].Args) == 0 || !slices.Contains(steps, c[0].Args[0]) {
				t.Fatalf("job %s: want one container running a billcons step", job.Name)
			}
			step := c[0].Args[0]
			seen[step] = true
			if step == "commit" && !failsJobOn(&job, 3) {
				t.Errorf("job %s: exit 3 (a guard tripped) is retried; it must fail the Job at once, for someone to be paged", job.Name)
			}
			indexed := job.Spec.CompletionMode != nil && *job.Spec.CompletionMode == batchv1.IndexedCompletion
			if (step == "split" || step == "shard") != indexed {
				t.Errorf("job %s: Indexed is %v", job.Name, indexed)
			}
			if indexed && job.Spec.BackoffLimitPerIndex == nil {
				t.Errorf("job %s: no backoffLimitPerIndex: one failed index would fail the others", job.Name)
			}
			if slices.Contains(c[0].Args, "--index") {
				t.Errorf("job %s: passes --index; Indexed Jobs give it as $JOB_COMPLETION_INDEX", job.Name)
			}
			if job.Spec.Template.Spec.RestartPolicy != corev1.RestartPolicyNever {
				t.Errorf("job %s: restartPolicy %s; want Never (a retry is a new pod)", job.Name, job.Spec.Template.Spec.RestartPolicy)
			}
		default:
			t.Fatalf("jobs.yaml: unexpected kind %q", meta.Kind)
		}
	}
	for _, s := range append(slices.Clone(steps), "gc") {
		if !seen[s] {
			t.Errorf("no job runs %s", s)
		}
	}
}

// sameStore checks that every s3:// URL among values names its store's
// endpoint and region as out does: an input URL without them is looked up
// on AWS, not on the store the run writes to (OSS here).
func sameStore(t *testing.T, file, out string, values map[string]string) {
	t.Helper()
	ou, err := url.Parse(out)
	if err != nil || ou.Query().Get("endpoint") == "" {
		t.Fatalf("%s: out %q names no endpoint", file, out)
	}
	for name, v := range values {
		if !strings.HasPrefix(v, "s3://") {
			continue
		}
		u, err := url.Parse(v)
		if err != nil {
			t.Errorf("%s: %s: %v", file, name, err)
			continue
		}
		for _, k := range []string{"endpoint", "region"} {
			if u.Query().Get(k) != ou.Query().Get(k) {
				t.Errorf("%s: %s is %s: its %s is %q, out's %q", file, name, v, k, u.Query().Get(k), ou.Query().Get(k))
			}
		}
	}
}

// The part of Argo's Workflow type the workflow uses, with the Kubernetes
// types it embeds: Argo's own module is far too large to import for a test.
type workflow struct {
	metav1.TypeMeta `json:",inline"`
	Metadata        metav1.ObjectMeta `json:"metadata"`
	Spec            struct {
		Entrypoint string `json:"entrypoint"`
		Arguments  struct {
			Parameters []parameter `json:"parameters"`
		} `json:"arguments"`
		Templates []template `json:"templates"`
	} `json:"spec"`
}

type parameter struct {
	Name  string `json:"name"`
	Value string `json:"value,omitempty"`
}

type template struct {
	Name   string `json:"name"`
	Inputs *struct {
		Parameters []parameter `json:"parameters"`
	} `json:"inputs,omitempty"`
	RetryStrategy *struct {
		Limit       string `json:"limit"`
		RetryPolicy string `json:"retryPolicy"`
	} `json:"retryStrategy,omitempty"`
	Container *corev1.Container `json:"container,omitempty"`
	DAG       *struct {
		Tasks []struct {
			Name         string   `json:"name"`
			Template     string   `json:"template"`
			Dependencies []string `json:"dependencies,omitempty"`
			WithSequence *struct {
				Count string `json:"count"`
			} `json:"withSequence,omitempty"`
			Arguments *struct {
				Parameters []parameter `json:"parameters"`
			} `json:"arguments,omitempty"`
		} `json:"tasks"`
	} `json:"dag,omitempty"`
}

// TestWorkflow decodes workflow.yaml strictly and checks the DAG: plan,
// split, shard, commit, each after the one before.
func TestWorkflow(t *testing.T) {
	docs := documents(t, "workflow.yaml")
	if len(docs) != 1 {
		t.Fatalf("workflow.yaml: %d documents", len(docs))
	}
	var w workflow
	if err := strict(docs[0], &w); err != nil {
		t.Fatal(err)
	}
	if w.Kind != "Workflow" || w.APIVersion != "argoproj.io/v1alpha1" {
		t.Fatalf("%s %s", w.APIVersion, w.Kind)
	}
	params := map[string]string{}
	for _, p := range w.Spec.Arguments.Parameters {
		params[p.Name] = p.Value
	}
	sameStore(t, "workflow.yaml", params["out"], params)
	templates := map[string]*template{}
	for i := range w.Spec.Templates {
		templates[w.Spec.Templates[i].Name] = &w.Spec.Templates[i]
	}
	entry := templates[w.Spec.Entrypoint]
	if entry == nil || entry.DAG == nil {
		t.Fatalf("entrypoint %q is not a DAG", w.Spec.Entrypoint)
	}
	prev := ""
	for i, task := range entry.DAG.Tasks {
		if task.Name != steps[i] {
			t.Fatalf("task %d is %s; want %s", i, task.Name, steps[i])
		}
		if prev != "" && !slices.Equal(task.Dependencies, []string{prev}) {
			t.Errorf("task %s depends on %v; want [%s]", task.Name, task.Dependencies, prev)
		}
		prev = task.Name
		tpl := templates[task.Template]
		if tpl == nil || tpl.Container == nil {
			t.Fatalf("task %s: template %q has no container", task.Name, task.Template)
		}
		if (task.WithSequence != nil) != (task.Name == "split" || task.Name == "shard") {
			t.Errorf("task %s: fan-out is %v", task.Name, task.WithSequence != nil)
		}
		if !strings.Contains(strings.Join(tpl.Container.Args, " "), "--out") {
			t.Errorf("task %s: no --out", task.Name)
		}
	}
}

// TestDockerfile checks the image builds the command the manifests run.
func TestDockerfile(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"go build", "./cmd/billcons", `ENTRYPOINT ["/usr/local/bin/billcons"]`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
}

// failsJobOn reports whether job's pod failure policy fails the whole Job,
// without retries, when its container exits with code.
func failsJobOn(job *batchv1.Job, code int32) bool {
	p := job.Spec.PodFailurePolicy
	if p == nil {
		return false
	}
	for _, r := range p.Rules {
		if r.Action == batchv1.PodFailurePolicyActionFailJob && r.OnExitCodes != nil &&
			r.OnExitCodes.Operator == batchv1.PodFailurePolicyOnExitCodesOpIn && slices.Contains(r.OnExitCodes.Values, code) {
			return true
		}
	}
	return false
}
