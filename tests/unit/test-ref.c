/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* cmocka.h needs the headers above */
#include <cmocka.h>

#include <vxn/image.h>

#include "shared/macro.h"
#include "shared/util.h"

#define HEX  "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define HEXB "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"
#define DG   "sha256:" HEX
#define DGB  "sha256:" HEXB

/* Expected results: the input, then string, familiar, domain, path, tag, digest. */
struct ok_case {
	const char *in;
	const char *string;
	const char *familiar;
	const char *domain;
	const char *path;
	const char *tag;
	const char *digest;
};

static const struct ok_case ok_cases[] = {
	/* Docker Hub, official images */
	{ "busybox", "docker.io/library/busybox:latest", "busybox:latest", "docker.io",
	  "library/busybox", "latest", NULL },
	{ "busybox:1.36", "docker.io/library/busybox:1.36", "busybox:1.36", "docker.io",
	  "library/busybox", "1.36", NULL },
	{ "busybox:latest", "docker.io/library/busybox:latest", "busybox:latest", "docker.io",
	  "library/busybox", "latest", NULL },
	{ "docker.io/busybox", "docker.io/library/busybox:latest", "busybox:latest", "docker.io",
	  "library/busybox", "latest", NULL },
	{ "docker.io/library/busybox", "docker.io/library/busybox:latest", "busybox:latest",
	  "docker.io", "library/busybox", "latest", NULL },
	{ "docker.io/library/busybox:musl", "docker.io/library/busybox:musl", "busybox:musl",
	  "docker.io", "library/busybox", "musl", NULL },
	{ "index.docker.io/library/busybox:1", "docker.io/library/busybox:1", "busybox:1",
	  "docker.io", "library/busybox", "1", NULL },
	{ "index.docker.io/busybox", "docker.io/library/busybox:latest", "busybox:latest",
	  "docker.io", "library/busybox", "latest", NULL },
	{ "index.docker.io/user/app", "docker.io/user/app:latest", "user/app:latest", "docker.io",
	  "user/app", "latest", NULL },
	{ "library/busybox", "docker.io/library/busybox:latest", "busybox:latest", "docker.io",
	  "library/busybox", "latest", NULL },
	{ "library/busybox:2", "docker.io/library/busybox:2", "busybox:2", "docker.io",
	  "library/busybox", "2", NULL },
	/* "library/" is only dropped when one component follows it */
	{ "library/a/b", "docker.io/library/a/b:latest", "library/a/b:latest", "docker.io",
	  "library/a/b", "latest", NULL },
	{ "docker.io/library/a/b:c", "docker.io/library/a/b:c", "library/a/b:c", "docker.io",
	  "library/a/b", "c", NULL },
	{ "docker.io/library", "docker.io/library/library:latest", "library:latest", "docker.io",
	  "library/library", "latest", NULL },
	{ "library", "docker.io/library/library:latest", "library:latest", "docker.io",
	  "library/library", "latest", NULL },
	{ "libraryx/a", "docker.io/libraryx/a:latest", "libraryx/a:latest", "docker.io",
	  "libraryx/a", "latest", NULL },
	/* Docker Hub, user repositories */
	{ "user/repo", "docker.io/user/repo:latest", "user/repo:latest", "docker.io", "user/repo",
	  "latest", NULL },
	{ "user/repo:v1", "docker.io/user/repo:v1", "user/repo:v1", "docker.io", "user/repo", "v1",
	  NULL },
	{ "docker.io/user/repo:v1", "docker.io/user/repo:v1", "user/repo:v1", "docker.io",
	  "user/repo", "v1", NULL },
	{ "a/b/c/d", "docker.io/a/b/c/d:latest", "a/b/c/d:latest", "docker.io", "a/b/c/d", "latest",
	  NULL },
	{ "0/1", "docker.io/0/1:latest", "0/1:latest", "docker.io", "0/1", "latest", NULL },
	{ "d", "docker.io/library/d:latest", "d:latest", "docker.io", "library/d", "latest", NULL },
	{ "jess/t", "docker.io/jess/t:latest", "jess/t:latest", "docker.io", "jess/t", "latest",
	  NULL },
	/* localhost */
	{ "localhost/x", "localhost/x:latest", "localhost/x:latest", "localhost", "x", "latest",
	  NULL },
	{ "localhost:5000/x", "localhost:5000/x:latest", "localhost:5000/x:latest",
	  "localhost:5000", "x", "latest", NULL },
	{ "localhost:5000/x:tag", "localhost:5000/x:tag", "localhost:5000/x:tag", "localhost:5000",
	  "x", "tag", NULL },
	{ "localhost/library/x", "localhost/library/x:latest", "localhost/library/x:latest",
	  "localhost", "library/x", "latest", NULL },
	{ "localhost/a/b/c", "localhost/a/b/c:latest", "localhost/a/b/c:latest", "localhost",
	  "a/b/c", "latest", NULL },
	/* without a '/', localhost and host names are repository names */
	{ "localhost", "docker.io/library/localhost:latest", "localhost:latest", "docker.io",
	  "library/localhost", "latest", NULL },
	{ "localhost:5000", "docker.io/library/localhost:5000", "localhost:5000", "docker.io",
	  "library/localhost", "5000", NULL },
	{ "example.com", "docker.io/library/example.com:latest", "example.com:latest", "docker.io",
	  "library/example.com", "latest", NULL },
	{ "test.com:5000", "docker.io/library/test.com:5000", "test.com:5000", "docker.io",
	  "library/test.com", "5000", NULL },
	{ "test.com:tag", "docker.io/library/test.com:tag", "test.com:tag", "docker.io",
	  "library/test.com", "tag", NULL },
	{ "192.168.0.1", "docker.io/library/192.168.0.1:latest", "192.168.0.1:latest", "docker.io",
	  "library/192.168.0.1", "latest", NULL },
	{ "192.168.0.1:80", "docker.io/library/192.168.0.1:80", "192.168.0.1:80", "docker.io",
	  "library/192.168.0.1", "80", NULL },
	{ "foo_bar.com:8080", "docker.io/library/foo_bar.com:8080", "foo_bar.com:8080", "docker.io",
	  "library/foo_bar.com", "8080", NULL },
	{ "foo/foo_bar.com:8080", "docker.io/foo/foo_bar.com:8080", "foo/foo_bar.com:8080",
	  "docker.io", "foo/foo_bar.com", "8080", NULL },
	{ "test_com", "docker.io/library/test_com:latest", "test_com:latest", "docker.io",
	  "library/test_com", "latest", NULL },
	/* IPv4 registries */
	{ "127.0.0.1:5000/ns/x:tag", "127.0.0.1:5000/ns/x:tag", "127.0.0.1:5000/ns/x:tag",
	  "127.0.0.1:5000", "ns/x", "tag", NULL },
	{ "127.0.0.1/x", "127.0.0.1/x:latest", "127.0.0.1/x:latest", "127.0.0.1", "x", "latest",
	  NULL },
	{ "192.168.0.1:8/debian", "192.168.0.1:8/debian:latest", "192.168.0.1:8/debian:latest",
	  "192.168.0.1:8", "debian", "latest", NULL },
	{ "192.168.1.1:5000/repo:5050", "192.168.1.1:5000/repo:5050", "192.168.1.1:5000/repo:5050",
	  "192.168.1.1:5000", "repo", "5050", NULL },
	{ "0.0.0.0:0/x", "0.0.0.0:0/x:latest", "0.0.0.0:0/x:latest", "0.0.0.0:0", "x", "latest",
	  NULL },
	/* IPv6 registries */
	{ "[::1]:5000/x", "[::1]:5000/x:latest", "[::1]:5000/x:latest", "[::1]:5000", "x", "latest",
	  NULL },
	{ "[::1]/x", "[::1]/x:latest", "[::1]/x:latest", "[::1]", "x", "latest", NULL },
	{ "[2001:db8::1]:5000/repo:tag@" DG, "[2001:db8::1]:5000/repo:tag@" DG,
	  "[2001:db8::1]:5000/repo:tag@" DG, "[2001:db8::1]:5000", "repo", "tag", DG },
	{ "[fc00:1:2:3:4:5:6:7]:5000/library/debian",
	  "[fc00:1:2:3:4:5:6:7]:5000/library/debian:latest",
	  "[fc00:1:2:3:4:5:6:7]:5000/library/debian:latest", "[fc00:1:2:3:4:5:6:7]:5000",
	  "library/debian", "latest", NULL },
	{ "[FE80::AB]/x", "[FE80::AB]/x:latest", "[FE80::AB]/x:latest", "[FE80::AB]", "x", "latest",
	  NULL },
	{ "[2001:db8::]:5000/repo", "[2001:db8::]:5000/repo:latest",
	  "[2001:db8::]:5000/repo:latest", "[2001:db8::]:5000", "repo", "latest", NULL },
	/* named registries */
	{ "example.com/x", "example.com/x:latest", "example.com/x:latest", "example.com", "x",
	  "latest", NULL },
	{ "example.com:443/a/b/c:v2", "example.com:443/a/b/c:v2", "example.com:443/a/b/c:v2",
	  "example.com:443", "a/b/c", "v2", NULL },
	{ "host:5000/x", "host:5000/x:latest", "host:5000/x:latest", "host:5000", "x", "latest",
	  NULL },
	{ "a:5/b", "a:5/b:latest", "a:5/b:latest", "a:5", "b", "latest", NULL },
	{ "a.b/c", "a.b/c:latest", "a.b/c:latest", "a.b", "c", "latest", NULL },
	{ "sub-dom1.foo.com/bar/baz/quux:some-long-tag",
	  "sub-dom1.foo.com/bar/baz/quux:some-long-tag",
	  "sub-dom1.foo.com/bar/baz/quux:some-long-tag", "sub-dom1.foo.com", "bar/baz/quux",
	  "some-long-tag", NULL },
	{ "b.gcr.io/test.example.com/my-app:test.example.com",
	  "b.gcr.io/test.example.com/my-app:test.example.com",
	  "b.gcr.io/test.example.com/my-app:test.example.com", "b.gcr.io",
	  "test.example.com/my-app", "test.example.com", NULL },
	{ "xn--n3h.com/myimage:xn--n3h.com", "xn--n3h.com/myimage:xn--n3h.com",
	  "xn--n3h.com/myimage:xn--n3h.com", "xn--n3h.com", "myimage", "xn--n3h.com", NULL },
	{ "a--b.example/x", "a--b.example/x:latest", "a--b.example/x:latest", "a--b.example", "x",
	  "latest", NULL },
	{ "registry-1.docker.io/library/x", "registry-1.docker.io/library/x:latest",
	  "registry-1.docker.io/library/x:latest", "registry-1.docker.io", "library/x", "latest",
	  NULL },
	{ "quay.io/coreos/etcd:v3.5.0", "quay.io/coreos/etcd:v3.5.0", "quay.io/coreos/etcd:v3.5.0",
	  "quay.io", "coreos/etcd", "v3.5.0", NULL },
	/* docker.io with a port is another registry: no library/, nothing dropped */
	{ "docker.io:5000/x", "docker.io:5000/x:latest", "docker.io:5000/x:latest",
	  "docker.io:5000", "x", "latest", NULL },
	/* upper case in the first component makes it a domain, and is kept */
	{ "Registry.Example.COM/x", "Registry.Example.COM/x:latest",
	  "Registry.Example.COM/x:latest", "Registry.Example.COM", "x", "latest", NULL },
	{ "REGISTRY:5000/x", "REGISTRY:5000/x:latest", "REGISTRY:5000/x:latest", "REGISTRY:5000",
	  "x", "latest", NULL },
	{ "Foo/bar", "Foo/bar:latest", "Foo/bar:latest", "Foo", "bar", "latest", NULL },
	{ "LOCALDOMAIN/debian", "LOCALDOMAIN/debian:latest", "LOCALDOMAIN/debian:latest",
	  "LOCALDOMAIN", "debian", "latest", NULL },
	{ "LOCALHOST/x", "LOCALHOST/x:latest", "LOCALHOST/x:latest", "LOCALHOST", "x", "latest",
	  NULL },
	{ "INDEX.DOCKER.IO/x", "INDEX.DOCKER.IO/x:latest", "INDEX.DOCKER.IO/x:latest",
	  "INDEX.DOCKER.IO", "x", "latest", NULL },
	/* separators */
	{ "a__b", "docker.io/library/a__b:latest", "a__b:latest", "docker.io", "library/a__b",
	  "latest", NULL },
	{ "a--b", "docker.io/library/a--b:latest", "a--b:latest", "docker.io", "library/a--b",
	  "latest", NULL },
	{ "a---b", "docker.io/library/a---b:latest", "a---b:latest", "docker.io", "library/a---b",
	  "latest", NULL },
	{ "a.b", "docker.io/library/a.b:latest", "a.b:latest", "docker.io", "library/a.b", "latest",
	  NULL },
	{ "a_b", "docker.io/library/a_b:latest", "a_b:latest", "docker.io", "library/a_b", "latest",
	  NULL },
	{ "a-b", "docker.io/library/a-b:latest", "a-b:latest", "docker.io", "library/a-b", "latest",
	  NULL },
	{ "a-b.c_d__e--f", "docker.io/library/a-b.c_d__e--f:latest", "a-b.c_d__e--f:latest",
	  "docker.io", "library/a-b.c_d__e--f", "latest", NULL },
	{ "dock__er/docker", "docker.io/dock__er/docker:latest", "dock__er/docker:latest",
	  "docker.io", "dock__er/docker", "latest", NULL },
	{ "docker---rules/docker", "docker.io/docker---rules/docker:latest",
	  "docker---rules/docker:latest", "docker.io", "docker---rules/docker", "latest", NULL },
	{ "a1-b2_c3/d4__e5.f6", "docker.io/a1-b2_c3/d4__e5.f6:latest", "a1-b2_c3/d4__e5.f6:latest",
	  "docker.io", "a1-b2_c3/d4__e5.f6", "latest", NULL },
	/* digests */
	{ "busybox@" DG, "docker.io/library/busybox@" DG, "busybox@" DG, "docker.io",
	  "library/busybox", NULL, DG },
	{ "busybox:1@" DG, "docker.io/library/busybox:1@" DG, "busybox:1@" DG, "docker.io",
	  "library/busybox", "1", DG },
	{ "docker.io/library/busybox:latest@" DGB, "docker.io/library/busybox:latest@" DGB,
	  "busybox:latest@" DGB, "docker.io", "library/busybox", "latest", DGB },
	{ "localhost:5000/x@" DG, "localhost:5000/x@" DG, "localhost:5000/x@" DG, "localhost:5000",
	  "x", NULL, DG },
	{ "user/repo@" DGB, "docker.io/user/repo@" DGB, "user/repo@" DGB, "docker.io", "user/repo",
	  NULL, DGB },
	{ "127.0.0.1:5000/ns/x:tag@" DG, "127.0.0.1:5000/ns/x:tag@" DG,
	  "127.0.0.1:5000/ns/x:tag@" DG, "127.0.0.1:5000", "ns/x", "tag", DG },
	{ "[::1]:5000/x@" DG, "[::1]:5000/x@" DG, "[::1]:5000/x@" DG, "[::1]:5000", "x", NULL, DG },
	/* tags */
	{ "busybox:Latest", "docker.io/library/busybox:Latest", "busybox:Latest", "docker.io",
	  "library/busybox", "Latest", NULL },
	{ "busybox:_x", "docker.io/library/busybox:_x", "busybox:_x", "docker.io",
	  "library/busybox", "_x", NULL },
	{ "busybox:1.0-rc.1_B", "docker.io/library/busybox:1.0-rc.1_B", "busybox:1.0-rc.1_B",
	  "docker.io", "library/busybox", "1.0-rc.1_B", NULL },
	{ "busybox:A", "docker.io/library/busybox:A", "busybox:A", "docker.io", "library/busybox",
	  "A", NULL },
	{ "busybox:a..--__", "docker.io/library/busybox:a..--__", "busybox:a..--__", "docker.io",
	  "library/busybox", "a..--__", NULL },
	{ "lowercase:Uppercase", "docker.io/library/lowercase:Uppercase", "lowercase:Uppercase",
	  "docker.io", "library/lowercase", "Uppercase", NULL },
	/* 64 hex characters are an image ID only on their own */
	{ "sha256:" HEX, "docker.io/library/sha256:" HEX, "sha256:" HEX, "docker.io",
	  "library/sha256", HEX, NULL },
	{ HEX ":latest", "docker.io/library/" HEX ":latest", HEX ":latest", "docker.io",
	  "library/" HEX, "latest", NULL },
	{ "docker.io/" HEX, "docker.io/library/" HEX ":latest", HEX ":latest", "docker.io",
	  "library/" HEX, "latest", NULL },
	{ "user/" HEX, "docker.io/user/" HEX ":latest", "user/" HEX ":latest", "docker.io",
	  "user/" HEX, "latest", NULL },
	{ HEX "0", "docker.io/library/" HEX "0:latest", HEX "0:latest", "docker.io",
	  "library/" HEX "0", "latest", NULL },
	{ "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde",
	  "docker.io/library/"
	  "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde:latest",
	  "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde:latest", "docker.io",
	  "library/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde", "latest",
	  NULL },
	{ "thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev",
	  "docker.io/library/"
	  "thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev:latest",
	  "thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev:latest", "docker.io",
	  "library/thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev", "latest",
	  NULL },
};

/* Expected failures: the input and a part of the reason. */
struct bad_case {
	const char *in;
	const char *why;
};

#define LOWER	   "invalid reference format: repository name must be lowercase"
#define COMPONENT  "must be lower case letters and digits separated by"
#define EMPTY_COMP "repository name has an empty component"
#define HOST	   "is not a valid registry host"
#define TAG	   "must be letters, digits, '_', '.' and '-', not starting with '.' or '-'"
#define MISSING	   "repository name is missing"

static const struct bad_case bad_cases[] = {
	{ "", "reference is empty" },
	{ HEX, "invalid repository name (" HEX "), cannot specify 64-byte hexadecimal strings" },
	{ "1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a",
	  "cannot specify 64-byte hexadecimal strings" },
	/* upper case in the repository path */
	{ "Busybox", LOWER },
	{ "busyBox:tag", LOWER },
	{ "Uppercase:tag", LOWER },
	{ "docker/Docker", LOWER },
	{ "docker.io/docker/Docker", LOWER },
	{ "test:5000/Uppercase/lowercase:tag", LOWER },
	{ "localhost/X", LOWER },
	{ "Foo/Bar", LOWER },
	{ "Foo_Bar/x", LOWER },
	{ "1A3F5E7D9C1B3A5F7E9D1C3B5A7F9E1D3C5B7A9F1E3D5D7C9B1A3F5E7D9C1B3A", LOWER },
	{ "a/B@" DG, LOWER },
	/* bad path components */
	{ "a___b", "component 'a___b' " COMPONENT },
	{ "a..b", "component 'a..b' " COMPONENT },
	{ "a-_b", "component 'a-_b' " COMPONENT },
	{ "a_-b", "component 'a_-b' " COMPONENT },
	{ "a._b", "component 'a._b' " COMPONENT },
	{ "a.-b", "component 'a.-b' " COMPONENT },
	{ "-a", "component '-a' " COMPONENT },
	{ "a-", "component 'a-' " COMPONENT },
	{ "_a", "component '_a' " COMPONENT },
	{ "a_", "component 'a_' " COMPONENT },
	{ ".a", "component '.a' " COMPONENT },
	{ "a.", "component 'a.' " COMPONENT },
	{ "____/____", "component '____' " COMPONENT },
	{ "-docker/docker", "component '-docker' " COMPONENT },
	{ "docker-/docker", "component 'docker-' " COMPONENT },
	{ "-docker-/docker", "component '-docker-' " COMPONENT },
	{ "dock..er/docker", "'dock..er' " HOST }, /* a '.' makes it a domain */
	{ "dock_.er/docker", "'dock_.er' " HOST }, /* a '.' makes it a domain */
	{ "dock-.er/docker", "'dock-.er' " HOST }, /* a '.' makes it a domain */
	{ "_docker/_docker", "component '_docker' " COMPONENT },
	{ "a b", "component 'a b' " COMPONENT },
	{ "busy*box", "component 'busy*box' " COMPONENT },
	{ "aa/asdf$$^/aa", "component 'asdf$$^' " COMPONENT },
	{ "ubuntu/caf\xc3\xa9", "component 'caf\xc3\xa9' " COMPONENT },
	{ "localhost:5000/a/-b", "component '-b' " COMPONENT },
	{ "[::1]", "component '[' " COMPONENT },
	{ "[::1]:5000", "component '[' " COMPONENT },
	{ "[2001:db8::1]:tag", "component '[2001' " COMPONENT },
	/* slashes */
	{ "a//b", EMPTY_COMP },
	{ "docker///docker", EMPTY_COMP },
	{ "docker.io/docker///docker", EMPTY_COMP },
	{ "/busybox", EMPTY_COMP },
	{ "//busybox", EMPTY_COMP },
	{ "localhost//x", EMPTY_COMP },
	{ "busybox/", "repository name is missing or ends with '/'" },
	{ "docker/", "repository name is missing or ends with '/'" },
	{ "a/b/:tag", "repository name is missing or ends with '/'" },
	{ "/", "repository name is missing or ends with '/'" },
	{ "localhost/", MISSING },
	{ "example.com/:tag", MISSING },
	{ "example.com/@" DG, MISSING },
	{ ":tag", MISSING },
	{ ":justtag", MISSING },
	{ "@" DG, MISSING },
	{ ":", MISSING },
	/* tags */
	{ "busybox:", "empty tag after ':'" },
	{ "localhost:5000/x:", "empty tag after ':'" },
	{ "busybox:@" DG, "empty tag after ':'" },
	{ "busybox:.tag", "tag '.tag' " TAG },
	{ "busybox:-tag", "tag '-tag' " TAG },
	{ "busybox:a:b", "tag 'a:b' " TAG },
	{ "busybox:tag:", "tag 'tag:' " TAG },
	{ "x::y", "tag ':y' " TAG },
	{ "busybox:ta g", "tag 'ta g' " TAG },
	{ "busybox:t+g", "tag 't+g' " TAG },
	/* digests */
	{ "busybox@", "empty digest after '@'" },
	{ "busybox:tag@", "empty digest after '@'" },
	{ "localhost:5000/x@", "empty digest after '@'" },
	{ "busybox@sha256", "digest 'sha256' must be 'sha256:' followed by 64 hex digits" },
	{ "busybox@" HEX, "digest '" HEX "' must be 'sha256:' followed by 64 hex digits" },
	{ "busybox@:" HEX, "digest ':" HEX "' must be 'sha256:' followed by 64 hex digits" },
	{ "busybox@sha512:" HEX HEX,
	  "unsupported digest algorithm 'sha512' (only sha256 is supported)" },
	{ "busybox@sha384:" HEX, "unsupported digest algorithm 'sha384'" },
	{ "busybox@md5:0123456789abcdef0123456789abcdef", "unsupported digest algorithm 'md5'" },
	{ "validname@invaliddigest:" HEX, "unsupported digest algorithm 'invaliddigest'" },
	{ "busybox@SHA256:" HEX, "unsupported digest algorithm 'SHA256'" },
	{ "busybox@sha256:abc", "invalid digest length: sha256 needs 64 hex digits, got 3" },
	{ "busybox@sha256:", "invalid digest length: sha256 needs 64 hex digits, got 0" },
	{ "busybox@sha256:" HEX "0", "invalid digest length: sha256 needs 64 hex digits, got 65" },
	{ "busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde",
	  "invalid digest length: sha256 needs 64 hex digits, got 63" },
	{ "busybox@sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef",
	  "invalid digest format: 'sha256:' must be followed by lower case hex digits only" },
	{ "busybox@sha256:gggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggg",
	  "invalid digest format" },
	{ "busybox@" DG "@" DG, "invalid digest format" },
	{ "busybox@" DG ":tag", "invalid digest format" },
	{ "user@host/x", "digest 'host/x' must be 'sha256:'" },
	/* registry hosts */
	{ "busybox:a/b", "'busybox:a' " HOST },
	{ "[fe80::1%eth0]:5000/debian", "'[fe80::1%eth0]:5000' " HOST },
	{ "[2001:db8:3:4::192.0.2.33]:5000/debian", "'[2001:db8:3:4::192.0.2.33]:5000' " HOST },
	{ "fc00::1:5000/debian", "'fc00::1:5000' " HOST },
	{ "[]:5000/x", "'[]:5000' " HOST },
	{ "[::1/x", "'[::1' " HOST },
	{ "[::1]x/y", "'[::1]x' " HOST },
	{ "[::1]:/x", "'[::1]:' " HOST },
	{ "host:/x", "'host:' " HOST },
	{ "host:port/x", "'host:port' " HOST },
	{ "host:50a0/x", "'host:50a0' " HOST },
	{ "host:5000:1/x", "'host:5000:1' " HOST },
	{ "-docker.io/docker/docker", "'-docker.io' " HOST },
	{ "a1.b2_c3/x",
	  "'a1.b2_c3' " HOST " (a first component containing '.' or ':' names a registry)" },
	{ "docker.io-/x", "'docker.io-' " HOST },
	{ "a..b.com/x", "'a..b.com' " HOST },
	{ "a.b./x", "'a.b.' " HOST },
	{ ".a.b/x", "'.a.b' " HOST },
	{ "foo_bar.com/x", "'foo_bar.com' " HOST },
	{ "my_registry.local:5000/x", "'my_registry.local:5000' " HOST },
	{ "https://github.com/docker/docker", "'https:' " HOST },
	{ "Foo_Bar.com/x", "'Foo_Bar.com' " HOST },
	{ "a@b.c/x", "'a@b.c' " HOST },
};

static void expect_str(const char *in, const char *what, const char *got, const char *want)
{
	if (!got && !want)
		return;
	if (got && want && STREQ(got, want))
		return;
	print_error("'%s': %s is '%s', expected '%s'\n", in, what, got ? got : "(null)",
		    want ? want : "(null)");
	fail();
}

static void test_ref_table_valid(void **state)
{
	for (size_t i = 0; i < ELEMENTSOF(ok_cases); i++) {
		const struct ok_case *c = &ok_cases[i];
		vxn_ref *ref = NULL;
		vxn_error *err = NULL;
		int r = vxn_ref_parse(&ref, c->in, &err);
		if (r != 0) {
			print_error("'%s': unexpected error %d: %s\n", c->in, r,
				    vxn_error_message(err));
			fail();
		}
		assert_null(err);
		expect_str(c->in, "string", vxn_ref_string(ref), c->string);
		expect_str(c->in, "familiar", vxn_ref_familiar(ref), c->familiar);
		expect_str(c->in, "domain", vxn_ref_domain(ref), c->domain);
		expect_str(c->in, "path", vxn_ref_path(ref), c->path);
		expect_str(c->in, "tag", vxn_ref_tag(ref), c->tag);
		expect_str(c->in, "digest", vxn_ref_digest(ref), c->digest);
		vxn_ref_free(ref);
	}
}

static void expect_invalid(const char *in, const char *why)
{
	vxn_ref *ref = (vxn_ref *)0x1;
	vxn_error *err = NULL;
	int r = vxn_ref_parse(&ref, in, &err);
	if (r != VXN_EINVAL) {
		print_error("'%s': expected EINVAL, got %d (%s)\n", in, r,
			    r == 0 ? vxn_ref_string(ref) : vxn_error_message(err));
		fail();
	}
	assert_ptr_equal(ref, (vxn_ref *)0x1); /* out untouched on failure */
	assert_int_equal(vxn_error_code(err), VXN_EINVAL);
	assert_int_equal(vxn_error_errno(err), 0);
	const char *msg = vxn_error_message(err);
	if (!strstr(msg, why)) {
		print_error("'%s': message '%s' lacks '%s'\n", in, msg, why);
		fail();
	}
	assert_null(strchr(msg, '\n'));
	/* The message names the reference (these inputs are short and printable). */
	_cleanup_free_ char *head = str_printf("invalid reference '%s': ", in);
	assert_non_null(head);
	if (!str_startswith(msg, head)) {
		print_error("'%s': message '%s' does not start with '%s'\n", in, msg, head);
		fail();
	}
	vxn_error_free(err);

	/* Without an error object only the code comes back. */
	assert_int_equal(vxn_ref_parse(&ref, in, NULL), VXN_EINVAL);
	assert_ptr_equal(ref, (vxn_ref *)0x1);
}

static void test_ref_table_invalid(void **state)
{
	for (size_t i = 0; i < ELEMENTSOF(bad_cases); i++)
		expect_invalid(bad_cases[i].in, bad_cases[i].why);
}

static void test_ref_exact_messages(void **state)
{
	static const char *const cases[][2] = {
		{ "Busybox", "invalid reference 'Busybox': invalid reference format: repository "
			     "name must be lowercase" },
		{ "", "invalid reference '': reference is empty" },
		{ HEX, "invalid reference '" HEX "': invalid repository name (" HEX
		       "), cannot specify 64-byte hexadecimal strings" },
		{ "a___b", "invalid reference 'a___b': invalid reference format: repository name "
			   "component 'a___b' must be lower case letters and digits separated by "
			   "'.', '_', '__' or '-'" },
		{ "x@sha1:0123456789abcdef0123456789abcdef01234567",
		  "invalid reference 'x@sha1:0123456789abcdef0123456789abcdef01234567': "
		  "unsupported digest algorithm 'sha1' (only sha256 is supported)" },
	};
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		vxn_error *err = NULL;
		vxn_ref *ref = NULL;
		assert_int_equal(vxn_ref_parse(&ref, cases[i][0], &err), VXN_EINVAL);
		assert_null(ref);
		assert_string_equal(vxn_error_message(err), cases[i][1]);
		vxn_error_free(err);
	}
}

static char *repeat(char c, size_t n)
{
	char *s = malloc(n + 1);
	assert_non_null(s);
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

/* Parse text, expecting success; check string and path. */
static void expect_ok(const char *text, const char *string, const char *path)
{
	vxn_ref *ref = NULL;
	vxn_error *err = NULL;
	int r = vxn_ref_parse(&ref, text, &err);
	if (r != 0) {
		print_error("'%.40s...': unexpected error: %s\n", text, vxn_error_message(err));
		fail();
	}
	assert_string_equal(vxn_ref_string(ref), string);
	assert_string_equal(vxn_ref_path(ref), path);
	vxn_ref_free(ref);
}

static void expect_fail_with(const char *text, const char *why)
{
	vxn_ref *ref = NULL;
	vxn_error *err = NULL;
	assert_int_equal(vxn_ref_parse(&ref, text, &err), VXN_EINVAL);
	assert_null(ref);
	if (!strstr(vxn_error_message(err), why)) {
		print_error("message '%s' lacks '%s'\n", vxn_error_message(err), why);
		fail();
	}
	vxn_error_free(err);
}

static void test_ref_tag_length(void **state)
{
	_cleanup_free_ char *t128 = repeat('t', 128);
	_cleanup_free_ char *t129 = repeat('t', 129);
	_cleanup_free_ char *in128 = str_printf("busybox:%s", t128);
	_cleanup_free_ char *in129 = str_printf("busybox:%s", t129);
	_cleanup_free_ char *want = str_printf("docker.io/library/busybox:%s", t128);
	expect_ok(in128, want, "library/busybox");

	vxn_ref *ref = NULL;
	assert_int_equal(vxn_ref_parse(&ref, in128, NULL), 0);
	assert_string_equal(vxn_ref_tag(ref), t128);
	vxn_ref_free(ref);

	expect_fail_with(
	    in129, "invalid reference format: tag must not be more than 128 characters (got 129)");
	_cleanup_free_ char *in129d = str_printf("localhost/x:%s@%s", t129, DG);
	expect_fail_with(in129d, "tag must not be more than 128 characters");
}

/*
 * The 255-character limit is on the repository path, "library/" included
 * but the registry not (distribution/reference v0.6).
 */
static void test_ref_name_length(void **state)
{
	/* docker.io/library/ + 247 = path of 255 */
	_cleanup_free_ char *a247 = repeat('a', 247);
	_cleanup_free_ char *a248 = repeat('a', 248);
	_cleanup_free_ char *want247 = str_printf("docker.io/library/%s:latest", a247);
	_cleanup_free_ char *path247 = str_printf("library/%s", a247);
	expect_ok(a247, want247, path247);
	expect_fail_with(a248, "repository name must not be more than 255 characters (got 256)");

	_cleanup_free_ char *a255 = repeat('a', 255);
	_cleanup_free_ char *a256 = repeat('a', 256);
	_cleanup_free_ char *l255 = str_printf("localhost/%s", a255);
	_cleanup_free_ char *l256 = str_printf("localhost/%s", a256);
	_cleanup_free_ char *lwant = str_printf("localhost/%s:latest", a255);
	expect_ok(l255, lwant, a255);
	expect_fail_with(l256, "repository name must not be more than 255 characters");

	/* The name with its registry may be longer than 255. */
	_cleanup_free_ char *e255 = str_printf("example.com:5000/%s:tag", a255);
	expect_ok(e255, e255, a255);
	_cleanup_free_ char *e256 = str_printf("example.com/%s@%s", a256, DG);
	expect_fail_with(e256, "repository name must not be more than 255 characters");

	/* Many components: "a/" x 127 + "a" is 255 characters. */
	char multi[256 + 2] = "";
	for (int i = 0; i < 127; i++)
		strcat(multi, "a/");
	strcat(multi, "a");
	assert_int_equal(strlen(multi), 255);
	_cleanup_free_ char *mwant = str_printf("docker.io/%s:latest", multi);
	expect_ok(multi, mwant, multi);
	strcat(multi, "a");
	expect_fail_with(multi, "repository name must not be more than 255 characters");

	/* The registry name itself has no limit. */
	_cleanup_free_ char *longhost = repeat('h', 300);
	_cleanup_free_ char *hin = str_printf("%s.example/x", longhost);
	_cleanup_free_ char *hwant = str_printf("%s.example/x:latest", longhost);
	expect_ok(hin, hwant, "x");
}

/* Every accessor's string is borrowed, stable and agrees with the others. */
static void test_ref_accessors_consistent(void **state)
{
	for (size_t i = 0; i < ELEMENTSOF(ok_cases); i++) {
		const struct ok_case *c = &ok_cases[i];
		vxn_ref *ref = NULL;
		assert_int_equal(vxn_ref_parse(&ref, c->in, NULL), 0);

		/* same pointer on every call: borrowed, not rebuilt */
		assert_ptr_equal(vxn_ref_string(ref), vxn_ref_string(ref));
		assert_ptr_equal(vxn_ref_name(ref), vxn_ref_name(ref));
		assert_ptr_equal(vxn_ref_familiar(ref), vxn_ref_familiar(ref));

		const char *tag = vxn_ref_tag(ref), *digest = vxn_ref_digest(ref);
		assert_true(tag || digest);
		_cleanup_free_ char *name =
		    str_printf("%s/%s", vxn_ref_domain(ref), vxn_ref_path(ref));
		assert_string_equal(vxn_ref_name(ref), name);
		_cleanup_free_ char *full =
		    str_printf("%s%s%s%s%s", name, tag ? ":" : "", tag ? tag : "",
			       digest ? "@" : "", digest ? digest : "");
		assert_string_equal(vxn_ref_string(ref), full);

		/* the familiar form ends with the same tag and digest */
		const char *suffix = vxn_ref_string(ref) + strlen(name);
		assert_true(str_endswith(vxn_ref_familiar(ref), suffix));

		/* both forms parse back to the same reference */
		vxn_ref *again = NULL;
		assert_int_equal(vxn_ref_parse(&again, vxn_ref_string(ref), NULL), 0);
		assert_string_equal(vxn_ref_string(again), vxn_ref_string(ref));
		assert_string_equal(vxn_ref_familiar(again), vxn_ref_familiar(ref));
		vxn_ref_free(again);
		assert_int_equal(vxn_ref_parse(&again, vxn_ref_familiar(ref), NULL), 0);
		assert_string_equal(vxn_ref_string(again), vxn_ref_string(ref));
		vxn_ref_free(again);

		/* the input is copied, not retained */
		_cleanup_free_ char *copy = strdup(c->in);
		assert_non_null(copy);
		vxn_ref *from_copy = NULL;
		assert_int_equal(vxn_ref_parse(&from_copy, copy, NULL), 0);
		memset(copy, 'Z', strlen(copy));
		assert_string_equal(vxn_ref_string(from_copy), c->string);
		vxn_ref_free(from_copy);

		vxn_ref_free(ref);
	}
}

static void test_ref_null_input(void **state)
{
	vxn_ref *ref = (vxn_ref *)0x1;
	vxn_error *err = NULL;
	assert_int_equal(vxn_ref_parse(&ref, NULL, &err), VXN_EINVAL);
	assert_ptr_equal(ref, (vxn_ref *)0x1);
	assert_int_equal(vxn_error_code(err), VXN_EINVAL);
	assert_string_equal(vxn_error_message(err), "invalid reference: no reference given (NULL)");
	vxn_error_free(err);
	err = NULL;

	assert_int_equal(vxn_ref_parse(NULL, "busybox", &err), VXN_EINVAL);
	assert_non_null(strstr(vxn_error_message(err), "out is NULL"));
	vxn_error_free(err);

	assert_int_equal(vxn_ref_parse(NULL, NULL, NULL), VXN_EINVAL);
	vxn_ref_free(NULL);
	assert_null(vxn_ref_string(NULL));
	assert_null(vxn_ref_familiar(NULL));
	assert_null(vxn_ref_domain(NULL));
	assert_null(vxn_ref_path(NULL));
	assert_null(vxn_ref_name(NULL));
	assert_null(vxn_ref_tag(NULL));
	assert_null(vxn_ref_digest(NULL));
}

/* Success leaves *err alone, even when it already holds an error. */
static void test_ref_success_leaves_err_alone(void **state)
{
	vxn_error *err = NULL;
	vxn_ref *ref = NULL;
	assert_int_equal(vxn_ref_parse(&ref, "Busybox", &err), VXN_EINVAL);
	const char *first = vxn_error_message(err);
	vxn_ref *ok = NULL;
	assert_int_equal(vxn_ref_parse(&ok, "busybox", &err), 0);
	assert_string_equal(vxn_ref_string(ok), "docker.io/library/busybox:latest");
	assert_ptr_equal(vxn_error_message(err), first); /* untouched on success */
	vxn_ref_free(ok);
	vxn_error_free(err);
}

/* Messages stay on one line and short whatever the input holds. */
static void test_ref_message_is_one_short_line(void **state)
{
	vxn_error *err = NULL;
	vxn_ref *ref = NULL;
	assert_int_equal(vxn_ref_parse(&ref, "busy\nbox\t:x", &err), VXN_EINVAL);
	assert_null(strchr(vxn_error_message(err), '\n'));
	assert_null(strchr(vxn_error_message(err), '\t'));
	assert_non_null(strstr(vxn_error_message(err), "'busy\\x0abox\\x09:x'"));
	vxn_error_free(err);
	err = NULL;

	_cleanup_free_ char *huge = repeat('B', 100000);
	assert_int_equal(vxn_ref_parse(&ref, huge, &err), VXN_EINVAL);
	assert_non_null(strstr(vxn_error_message(err), LOWER));
	assert_non_null(strstr(vxn_error_message(err), "BBB...'"));
	assert_true(strlen(vxn_error_message(err)) < 400);
	vxn_error_free(err);
	err = NULL;

	/* A cut never splits a UTF-8 sequence. */
	_cleanup_free_ char *utf = malloc(1 + 2 * 150 + 1);
	assert_non_null(utf);
	utf[0] = 'x'; /* so that byte 200, where the cut falls, continues a sequence */
	for (int i = 0; i < 150; i++)
		memcpy(utf + 1 + 2 * i, "\xc3\xa9", 2);
	utf[301] = '\0';
	assert_int_equal(vxn_ref_parse(&ref, utf, &err), VXN_EINVAL);
	const char *m = vxn_error_message(err);
	const char *dots = strstr(m, "...'");
	assert_non_null(dots);
	assert_int_equal((unsigned char)dots[-1], 0xa9);
	vxn_error_free(err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ref_table_valid),
		cmocka_unit_test(test_ref_table_invalid),
		cmocka_unit_test(test_ref_exact_messages),
		cmocka_unit_test(test_ref_tag_length),
		cmocka_unit_test(test_ref_name_length),
		cmocka_unit_test(test_ref_accessors_consistent),
		cmocka_unit_test(test_ref_null_input),
		cmocka_unit_test(test_ref_success_leaves_err_alone),
		cmocka_unit_test(test_ref_message_is_one_short_line),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
