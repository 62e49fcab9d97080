// Package storage is where billcons' files live, the ground floor every
// other room stands on. A local tree (tree.go, links.go, treegc.go): DIR
// and its kept versions, the lock a run holds, the staging folder it
// writes, the one rename that publishes a version, unchanged files shared
// by hard links, and gc of old versions. A store (this file, publish.go,
// retry.go): a local folder or a bucket (S3 and S3-compatible stores such
// as Alibaba OSS) behind one interface (gocloud.dev/blob), offering what
// the commit protocol needs and nothing more: plain writes of data files
// under unique names, create-only writes for the records that decide which
// attempt counts, a published pointer, written last, that readers resolve
// a run through, and retries while the store fails. It knows a manifest
// only as the list of files a version holds.
//
// Create-only writes use If-None-Match: * (S3, GCS, Azure). Alibaba OSS
// answers that header with 501 Not Implemented and wants
// x-oss-forbid-overwrite: true instead; a store that answers 501 once is
// written that way from then on. A local folder creates by hard link,
// which fails atomically when the name exists, across processes.
package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	gcaws "gocloud.dev/aws"
	"gocloud.dev/blob"
	"gocloud.dev/blob/fileblob"
	"gocloud.dev/blob/memblob"
	"gocloud.dev/blob/s3blob"
	"gocloud.dev/gcerrors"
)

// ErrNotExist is returned (wrapped) for a key that is not there. It is
// fs.ErrNotExist, so that a missing file and a missing object are one
// question for callers: errors.Is(err, fs.ErrNotExist).
var ErrNotExist = fs.ErrNotExist

// Store is one folder or bucket prefix.
type Store struct {
	url    string
	bucket *blob.Bucket
	local  string     // the folder, when the store is local
	s3     *s3.Client // the client, when the store is S3-compatible
	name   string     // the S3 bucket
	prefix string     // the key prefix inside the S3 bucket, "" or ending in /
	oss    atomic.Bool
	shared bool  // a mem:// bucket, kept open for the next Open
	retry  Retry // how transient errors are retried (WithRetry)
}

// errNoBucket is a missing bucket: a missing thing, as [ErrNotExist] says.
type errNoBucket struct{}

func (errNoBucket) Error() string        { return "no such bucket" }
func (errNoBucket) Is(target error) bool { return target == ErrNotExist }

// IsURL reports whether s names a store by URL (scheme://...) rather than a
// local path.
func IsURL(s string) bool {
	i := strings.Index(s, "://")
	return i > 0 && !strings.ContainsAny(s[:i], `/\.`)
}

// mem holds the mem:// buckets of this process, for tests.
var mem struct {
	sync.Mutex
	buckets map[string]*blob.Bucket
}

// Open opens the store at u: a local path, file:///path, s3://bucket/prefix
// (with ?endpoint=…&region=… for S3-compatible stores), or mem://name (in
// this process only, for tests).
func Open(ctx context.Context, u string) (*Store, error) {
	if !IsURL(u) {
		return openLocal(u, u)
	}
	pu, err := url.Parse(u)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", u, err)
	}
	switch pu.Scheme {
	case "file":
		if pu.Host != "" && pu.Host != "localhost" {
			return nil, fmt.Errorf("%s: a file URL names a local path (file:///path)", u)
		}
		return openLocal(u, pu.Path)
	case "mem":
		mem.Lock()
		defer mem.Unlock()
		b := mem.buckets[pu.Host]
		if b == nil {
			b = memblob.OpenBucket(nil)
			if mem.buckets == nil {
				mem.buckets = map[string]*blob.Bucket{}
			}
			mem.buckets[pu.Host] = b
		}
		return &Store{url: u, bucket: prefixed(b, pu.Path), shared: true, retry: RetryOf(ctx)}, nil
	case "s3":
		if pu.Host == "" {
			return nil, fmt.Errorf("%s: no bucket (s3://bucket/prefix)", u)
		}
		q := pu.Query()
		if q.Get("endpoint") != "" {
			// S3-compatible stores (OSS, MinIO...) want no checksum
			// trailers they do not know.
			for _, k := range []string{"request_checksum_calculation", "response_checksum_validation"} {
				if q.Get(k) == "" {
					q.Set(k, "when_required")
				}
			}
		}
		client, err := newS3Client(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", u, err)
		}
		b, err := s3blob.OpenBucket(ctx, client, pu.Host, &s3blob.Options{RequestChecksumCalculation: client.Options().RequestChecksumCalculation})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", u, err)
		}
		s := &Store{url: u, name: pu.Host, s3: client, retry: RetryOf(ctx)}
		s.prefix = strings.Trim(pu.Path, "/")
		if s.prefix != "" {
			s.prefix += "/"
		}
		s.bucket = prefixed(b, pu.Path)
		return s, nil
	}
	return nil, fmt.Errorf("%s: unknown scheme %q (want a local path, file://, s3:// or mem://)", u, pu.Scheme)
}

// newS3Client is the S3 client of a store URL's query: gocloud.dev's
// s3blob URL parameters (endpoint, region, use_path_style, disable_https,
// profile, ...), with two changes: the SDK never prints "Response has no
// supported checksum" (S3-compatible stores often send none, and it came
// on every read), and the SDK's retryer is left as gocloud.dev sets it
// (three quick attempts), because the store retries on top for as long as
// --store-retry says.
func newS3Client(ctx context.Context, q url.Values) (*s3.Client, error) {
	var opts []func(*s3.Options)
	for _, k := range []string{"use_path_style", "s3ForcePathStyle", "disable_https", "accelerate"} {
		v := q.Get(k)
		if v == "" {
			continue
		}
		q.Del(k)
		on, err := strconv.ParseBool(v)
		if err != nil {
			return nil, fmt.Errorf("invalid value for %q: %w", k, err)
		}
		switch k {
		case "disable_https":
			opts = append(opts, func(o *s3.Options) { o.EndpointOptions.DisableHTTPS = on })
		case "accelerate":
			opts = append(opts, func(o *s3.Options) { o.UseAccelerate = on })
		default:
			opts = append(opts, func(o *s3.Options) { o.UsePathStyle = on })
		}
	}
	cfg, err := gcaws.V2ConfigFromURLParams(ctx, q)
	if err != nil {
		return nil, err
	}
	opts = append(opts, func(o *s3.Options) { o.DisableLogOutputChecksumValidationSkipped = true })
	return s3.NewFromConfig(cfg, opts...), nil
}

func prefixed(b *blob.Bucket, p string) *blob.Bucket {
	p = strings.Trim(p, "/")
	if p == "" {
		return b
	}
	return blob.PrefixedBucket(b, p+"/")
}

func openLocal(u, dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("%s: %w", u, err)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	// NoTempDir: fileblob writes a key to a temporary file and renames it
	// into place; in the system's temporary folder (its default) that
	// rename fails across file systems, as when the store is a mounted
	// volume: "invalid cross-device link". Next to the key it never does.
	b, err := fileblob.OpenBucket(abs, &fileblob.Options{Metadata: fileblob.MetadataDontWrite, NoTempDir: true})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", u, err)
	}
	return &Store{url: u, bucket: b, local: abs}, nil
}

// Local is the store's folder when it is local, else "".
func (s *Store) Local() string { return s.local }

// Close closes the store.
func (s *Store) Close() error {
	if s.shared {
		return nil
	}
	return s.bucket.Close()
}

func (s *Store) wrap(key string, err error) error {
	if err == nil {
		return nil
	}
	if gcerrors.Code(err) == gcerrors.NotFound {
		return fmt.Errorf("%s: %w", s.Name(key), ErrNotExist)
	}
	return fmt.Errorf("%s: %w", s.Name(key), err)
}

// Name is the URL of key in the store, which Open opens again and which
// messages, rejects and manifests name it by: the key joins the URL's path,
// before its query (endpoint=…, use_path_style=…).
//
// A query parameter that carries a secret (a key, token, signature,
// credential or password, by its name) is left out: names go into rejects,
// manifests and logs, and credentials come from the environment anyway.
func (s *Store) Name(key string) string {
	base, query, _ := strings.Cut(s.url, "?")
	u := strings.TrimSuffix(base, "/") + "/" + key
	if query = Redact(query); query != "" {
		u += "?" + query
	}
	return u
}

// RedactURL is u without the query parameters that carry secrets.
func RedactURL(u string) string {
	base, query, ok := strings.Cut(u, "?")
	if !ok || !IsURL(u) {
		return u
	}
	if query = Redact(query); query != "" {
		return base + "?" + query
	}
	return base
}

// Redact is a URL query without the parameters that carry secrets, the
// others as they were.
func Redact(query string) string {
	if query == "" {
		return ""
	}
	var kept []string
	for _, kv := range strings.Split(query, "&") {
		k, _, _ := strings.Cut(kv, "=")
		k = strings.ToLower(k)
		secret := false
		for _, w := range []string{"secret", "token", "signature", "credential", "password", "access_key", "accesskey"} {
			secret = secret || strings.Contains(k, w)
		}
		if !secret {
			kept = append(kept, kv)
		}
	}
	return strings.Join(kept, "&")
}

// Put writes data under key, replacing what was there.
func (s *Store) Put(ctx context.Context, key string, data []byte) error {
	return s.wrap(key, s.do(ctx, key, func() error { return s.bucket.WriteAll(ctx, key, data, nil) }))
}

// PutFile copies the local file p to key.
func (s *Store) PutFile(ctx context.Context, key, p string) (int64, error) {
	f, err := os.Open(p)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var n int64
	err = s.do(ctx, key, func() error {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return err
		}
		// A writer whose context ends aborts its upload instead of
		// completing it with what it had.
		wctx, cancel := context.WithCancel(ctx)
		defer cancel()
		w, err := s.bucket.NewWriter(wctx, key, nil)
		if err != nil {
			return err
		}
		if n, err = io.Copy(w, f); err != nil {
			cancel()
			w.Close()
			return err
		}
		return w.Close()
	})
	return n, s.wrap(key, err)
}

// MoveFile puts the local file p at key and removes p. A local store
// renames p into place when it can (the same file system, a plain key):
// a step's data files go under names of their own attempt, so nothing is
// replaced, and renaming saves copying every byte once more.
func (s *Store) MoveFile(ctx context.Context, key, p string) (int64, error) {
	if s.local != "" && plainKey(key) {
		if fi, err := os.Stat(p); err == nil {
			dst := filepath.Join(s.local, filepath.FromSlash(key))
			if os.MkdirAll(filepath.Dir(dst), 0o755) == nil && os.Rename(p, dst) == nil {
				return fi.Size(), nil
			}
		}
	}
	n, err := s.PutFile(ctx, key, p)
	if err == nil {
		os.Remove(p)
	}
	return n, err
}

// plainKey reports whether key is a path fileblob stores as itself: no
// character it would escape (nor its escape marker __0x), no empty, dot or
// dot-dot element.
func plainKey(key string) bool {
	if strings.Contains(key, "__0x") {
		return false
	}
	for _, el := range strings.Split(key, "/") {
		if el == "" || el == "." || el == ".." {
			return false
		}
		for i := 0; i < len(el); i++ {
			c := el[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == '=') {
				return false
			}
		}
	}
	return true
}

// Get reads key whole.
func (s *Store) Get(ctx context.Context, key string) ([]byte, error) {
	var b []byte
	err := s.do(ctx, key, func() (err error) {
		b, err = s.bucket.ReadAll(ctx, key)
		return err
	})
	return b, s.wrap(key, err)
}

// GetFile copies key to the local file p, creating its folder.
func (s *Store) GetFile(ctx context.Context, key, p string) (int64, error) {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return 0, err
	}
	var n int64
	err := s.do(ctx, key, func() error {
		r, err := s.bucket.NewReader(ctx, key, nil)
		if err != nil {
			return err
		}
		defer r.Close()
		f, err := os.Create(p)
		if err != nil {
			return err
		}
		n, err = io.Copy(f, r)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		return err
	})
	return n, s.wrap(key, err)
}

// Exists reports whether key is there.
func (s *Store) Exists(ctx context.Context, key string) (bool, error) {
	var ok bool
	err := s.do(ctx, key, func() (err error) {
		ok, err = s.bucket.Exists(ctx, key)
		return err
	})
	return ok, s.wrap(key, err)
}

// Delete removes key; a key that is not there is no error.
func (s *Store) Delete(ctx context.Context, key string) error {
	err := s.do(ctx, key, func() error { return s.bucket.Delete(ctx, key) })
	if gcerrors.Code(err) == gcerrors.NotFound {
		return nil
	}
	return s.wrap(key, err)
}

// List returns the keys under prefix, sorted. Readers of a run never list
// its data files; List serves the published pointers and clean-up.
func (s *Store) List(ctx context.Context, prefix string) ([]string, error) {
	objs, err := s.ListObjects(ctx, prefix)
	keys := make([]string, len(objs))
	for i, o := range objs {
		keys[i] = o.Key
	}
	return keys, err
}

// Object is a key with its size and last modification.
type Object struct {
	Key     string
	Size    int64
	ModTime time.Time
}

// ListObjects returns the objects under prefix, sorted by key.
func (s *Store) ListObjects(ctx context.Context, prefix string) ([]Object, error) {
	var objs []Object
	err := s.do(ctx, prefix, func() error {
		objs = objs[:0]
		it := s.bucket.List(&blob.ListOptions{Prefix: prefix})
		for {
			o, err := it.Next(ctx)
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
			if !o.IsDir {
				objs = append(objs, Object{Key: o.Key, Size: o.Size, ModTime: o.ModTime})
			}
		}
	})
	if gcerrors.Code(err) == gcerrors.NotFound {
		// Listing finds no key missing: what is missing is the bucket.
		return nil, fmt.Errorf("%s: %w", s.Name(prefix), errNoBucket{})
	}
	if err != nil {
		return nil, s.wrap(prefix, err)
	}
	sort.Slice(objs, func(i, j int) bool { return objs[i].Key < objs[j].Key })
	return objs, nil
}

// Create writes data under key only if nothing is there: it reports false,
// and writes nothing, when key exists. Of two attempts at once exactly one
// gets true.
func (s *Store) Create(ctx context.Context, key string, data []byte) (bool, error) {
	switch {
	case s.local != "":
		return s.createLocal(key, data)
	case s.s3 != nil && s.oss.Load():
		return s.createOSS(ctx, key, data)
	}
	err := s.do(ctx, key, func() error {
		return s.bucket.WriteAll(ctx, key, data, &blob.WriterOptions{IfNotExist: true})
	})
	if err == nil {
		return true, nil
	}
	if gcerrors.Code(err) == gcerrors.FailedPrecondition || httpStatus(err) == http.StatusPreconditionFailed {
		return s.ours(ctx, key, data)
	}
	if s.s3 != nil && httpStatus(err) == http.StatusNotImplemented {
		// Alibaba OSS: If-None-Match is not implemented there.
		s.oss.Store(true)
		return s.createOSS(ctx, key, data)
	}
	return false, s.wrap(key, err)
}

// ours reports whether the object a create-only write found at key is the
// one it meant to write. A write whose answer is lost (the connection
// drops after the store wrote it) is tried again, by the SDK or by the
// store's retries, and the retry finds the object there: taken, but by
// this very write. Every record and pointer holds something unique to its
// writer (an attempt's id, a publish time), so the same bytes mean the
// same writer; reading them back keeps a step from taking its own record
// for another attempt's and removing the files it names.
func (s *Store) ours(ctx context.Context, key string, data []byte) (bool, error) {
	b, err := s.Get(ctx, key)
	if err != nil {
		return false, err
	}
	return bytes.Equal(b, data), nil
}

// createOSS is Create on Alibaba OSS: x-oss-forbid-overwrite makes a PUT
// fail with 409 FileAlreadyExists when the object exists.
func (s *Store) createOSS(ctx context.Context, key string, data []byte) (bool, error) {
	err := s.do(ctx, key, func() error {
		_, err := s.s3.PutObject(ctx, &s3.PutObjectInput{
			Bucket: &s.name, Key: ptr(s.prefix + key), Body: bytes.NewReader(data), ContentLength: ptr(int64(len(data))),
		}, func(o *s3.Options) {
			o.APIOptions = append(o.APIOptions, smithyhttp.AddHeaderValue("x-oss-forbid-overwrite", "true"))
		})
		return err
	})
	switch {
	case err == nil:
		return true, nil
	case httpStatus(err) == http.StatusConflict:
		return s.ours(ctx, key, data)
	}
	return false, s.wrap(key, err)
}

func ptr[T any](v T) *T { return &v }

func httpStatus(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// createLocal is Create on a folder: the data goes to a temporary file,
// which is then hard-linked to its name; link fails if the name exists.
func (s *Store) createLocal(key string, data []byte) (bool, error) {
	p := filepath.Join(s.local, filepath.FromSlash(path.Clean("/"+key)))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return false, err
	}
	f, err := os.CreateTemp(filepath.Dir(p), ".create-*")
	if err != nil {
		return false, err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if _, err := f.Write(data); err != nil {
		f.Close()
		return false, err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return false, err
	}
	if err := f.Close(); err != nil {
		return false, err
	}
	if err := os.Link(tmp, p); err != nil {
		if errors.Is(err, os.ErrExist) {
			return false, nil
		}
		return false, err
	}
	return true, nil
}

// NewReader opens key for reading, streamed.
func (s *Store) NewReader(ctx context.Context, key string) (io.ReadCloser, error) {
	var r io.ReadCloser
	err := s.do(ctx, key, func() (err error) {
		r, err = s.bucket.NewReader(ctx, key, nil)
		return err
	})
	if err != nil {
		return nil, s.wrap(key, err)
	}
	return r, nil
}

// Upload is a multipart upload begun and neither completed nor aborted:
// what a writer killed mid-upload leaves, invisible to listings, and billed.
type Upload struct {
	Key       string // under the store's prefix
	ID        string
	Initiated time.Time
}

// Uploads returns the incomplete multipart uploads under prefix; none on a
// store that is not S3-compatible (a folder has no such thing).
func (s *Store) Uploads(ctx context.Context, prefix string) ([]Upload, error) {
	if s.s3 == nil {
		return nil, nil
	}
	var ups []Upload
	in := &s3.ListMultipartUploadsInput{Bucket: &s.name, Prefix: ptr(s.prefix + prefix)}
	for {
		var out *s3.ListMultipartUploadsOutput
		err := s.do(ctx, prefix, func() (err error) {
			out, err = s.s3.ListMultipartUploads(ctx, in)
			return err
		})
		if err != nil {
			return nil, s.wrap(prefix, err)
		}
		for _, u := range out.Uploads {
			if u.Key == nil || u.UploadId == nil {
				continue
			}
			up := Upload{Key: strings.TrimPrefix(*u.Key, s.prefix), ID: *u.UploadId}
			if u.Initiated != nil {
				up.Initiated = *u.Initiated
			}
			ups = append(ups, up)
		}
		if out.IsTruncated == nil || !*out.IsTruncated {
			return ups, nil
		}
		in.KeyMarker, in.UploadIdMarker = out.NextKeyMarker, out.NextUploadIdMarker
	}
}

// AbortUpload aborts an incomplete multipart upload, freeing its parts.
func (s *Store) AbortUpload(ctx context.Context, up Upload) error {
	return s.wrap(up.Key, s.do(ctx, up.Key, func() error {
		_, err := s.s3.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: &s.name, Key: ptr(s.prefix + up.Key), UploadId: &up.ID})
		return err
	}))
}

// SizeText is n bytes for people: 1.4 MB.
func SizeText(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}
