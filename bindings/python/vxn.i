/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * SWIG interface for libvxn. The generated module is vxn.lowlevel; the
 * Pythonic package vxn (vxn/__init__.py) wraps it. Conventions:
 *  - every `vxn_error **err` parameter is hidden: a failing call raises the
 *    vxn.Error subclass for its status (vxn.errors), with .code, .errno and
 *    .message, and the call's return value is dropped on success;
 *  - `T **out` parameters become return values; objects returned that way
 *    are owned by Python and freed by their destructor.
 */
%module(package="vxn") lowlevel

%{
#include <vxn/vxn.h>
#include <vxn/image.h>
#include <vxn/spec.h>
#include <vxn/container.h>
%}

%include <stdint.i>

/* ---- errors ---- */
%typemap(in, numinputs=0) vxn_error **err (vxn_error *tmp = NULL) {
	$1 = &tmp;
}
%typemap(argout) vxn_error **err {
	if (*$1) {
		PyObject *mod = PyImport_ImportModule("vxn.errors");
		PyObject *exc = mod ? PyObject_CallMethod(mod, "_from_status", "iis",
			vxn_error_code(*$1), vxn_error_errno(*$1), vxn_error_message(*$1)) : NULL;
		vxn_error_free(*$1);
		Py_XDECREF(mod);
		if (exc) {
			PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
			Py_DECREF(exc);
		}
		SWIG_fail;
	}
}
/* Fallible calls return an int status; on success Python sees only their
 * out parameters (or None). */
%define VXN_STATUS_FN(name)
%typemap(out) int name {
	$result = SWIG_Py_Void();
}
%enddef

/* ---- strings and string arrays ---- */
%typemap(out) const char *const * {
	size_t n = 0;
	while ($1 && $1[n]) n++;
	$result = PyList_New(n);
	for (size_t i = 0; i < n; i++)
		PyList_SetItem($result, i, PyUnicode_FromString($1[i]));
}

/* ---- context ---- */
typedef struct vxn_ctx vxn_ctx;
%typemap(in, numinputs=0) vxn_ctx **out (vxn_ctx *tmp = NULL) {
	$1 = &tmp;
}
%typemap(argout) vxn_ctx **out {
	$result = SWIG_Python_AppendOutput($result,
		SWIG_NewPointerObj(*$1, SWIGTYPE_p_vxn_ctx, SWIG_POINTER_OWN));
}
%nodefaultctor vxn_ctx;
struct vxn_ctx {};
%extend vxn_ctx {
	~vxn_ctx() { vxn_ctx_free($self); }
}

/* ---- opaque out parameters: T **out becomes a Python-owned return value ---- */
%define VXN_OPAQUE(T, FREE)
typedef struct T T;
%typemap(in, numinputs=0) T **out (T *tmp = NULL) {
	$1 = &tmp;
}
%typemap(argout) T **out {
	$result = SWIG_Python_AppendOutput($result,
		SWIG_NewPointerObj(*$1, $descriptor(T *), SWIG_POINTER_OWN));
}
%nodefaultctor T;
struct T {};
%extend T {
	~T() { FREE($self); }
}
%enddef

VXN_OPAQUE(vxn_ref, vxn_ref_free)
VXN_OPAQUE(vxn_image_store, vxn_image_store_free)
VXN_OPAQUE(vxn_image, vxn_image_free)
VXN_OPAQUE(vxn_image_list, vxn_image_list_free)
VXN_OPAQUE(vxn_image_opts, vxn_image_opts_free)

/* malloc'd strings and string vectors handed to the caller */
%typemap(in, numinputs=0) char **out (char *tmp = NULL), char **out_path (char *tmp = NULL) {
	$1 = &tmp;
}
%typemap(argout) char **out, char **out_path {
	if (*$1) {
		$result = SWIG_Python_AppendOutput($result, PyUnicode_FromString(*$1));
		free(*$1);
	}
}
%typemap(in, numinputs=0) char ***out_names (char **tmp = NULL), char ***out_report (char **tmp = NULL) {
	$1 = &tmp;
}
%typemap(argout) char ***out_names, char ***out_report {
	PyObject *list = PyList_New(0);
	for (size_t i = 0; *$1 && (*$1)[i]; i++) {
		PyObject *s = PyUnicode_FromString((*$1)[i]);
		PyList_Append(list, s);
		Py_DECREF(s);
		free((*$1)[i]);
	}
	free(*$1);
	$result = SWIG_Python_AppendOutput($result, list);
}
%typemap(in, numinputs=0) uint64_t *images (uint64_t tmp = 0), uint64_t *images_bytes (uint64_t tmp = 0),
	uint64_t *reclaimable_bytes (uint64_t tmp = 0), uint64_t *cache_bytes (uint64_t tmp = 0),
	uint64_t *reclaimed_bytes (uint64_t tmp = 0) {
	$1 = &tmp;
}
%typemap(argout) uint64_t *images, uint64_t *images_bytes, uint64_t *reclaimable_bytes,
	uint64_t *cache_bytes, uint64_t *reclaimed_bytes {
	$result = SWIG_Python_AppendOutput($result, PyLong_FromUnsignedLongLong(*$1));
}
/* NULL-terminated string arrays as input (a Python list of str) */
%typemap(in) const char *const *images {
	if (!PyList_Check($input)) {
		PyErr_SetString(PyExc_TypeError, "expected a list of str");
		SWIG_fail;
	}
	Py_ssize_t n = PyList_Size($input);
	$1 = calloc((size_t)n + 1, sizeof(char *));
	for (Py_ssize_t i = 0; i < n; i++) {
		PyObject *o = PyList_GetItem($input, i);
		if (!PyUnicode_Check(o)) {
			free($1);
			PyErr_SetString(PyExc_TypeError, "expected a list of str");
			SWIG_fail;
		}
		((const char **)$1)[i] = PyUnicode_AsUTF8(o);
	}
}
%typemap(freearg) const char *const *images {
	free((void *)$1);
}

VXN_STATUS_FN(vxn_ref_parse)
VXN_STATUS_FN(vxn_image_store_open)
VXN_STATUS_FN(vxn_image_inspect_json)
VXN_STATUS_FN(vxn_image_history_json)
VXN_STATUS_FN(vxn_image_lookup)
VXN_STATUS_FN(vxn_image_list_images)
VXN_STATUS_FN(vxn_image_opts_new)
VXN_STATUS_FN(vxn_image_opts_set_platform)
VXN_STATUS_FN(vxn_image_opts_set_authfile)
VXN_STATUS_FN(vxn_image_opts_add_change)
VXN_STATUS_FN(vxn_image_opts_set_message)
VXN_STATUS_FN(vxn_image_pull)
VXN_STATUS_FN(vxn_image_push)
VXN_STATUS_FN(vxn_image_load)
VXN_STATUS_FN(vxn_image_save)
VXN_STATUS_FN(vxn_image_import)
VXN_STATUS_FN(vxn_image_tag)
VXN_STATUS_FN(vxn_image_remove)
VXN_STATUS_FN(vxn_image_prune)
VXN_STATUS_FN(vxn_image_store_usage)
VXN_STATUS_FN(vxn_image_rootfs)

/* Progress: a Python callable(id, status, current, total). The Python wrapper
 * keeps the callable alive as long as the options object. */
%{
static void vxn_py_progress(void *userdata, const char *id, const char *status,
			    uint64_t current, uint64_t total)
{
	PyGILState_STATE g = PyGILState_Ensure();
	PyObject *r = PyObject_CallFunction((PyObject *)userdata, "ssKK", id, status,
					    (unsigned long long)current, (unsigned long long)total);
	if (!r)
		PyErr_Print();
	Py_XDECREF(r);
	PyGILState_Release(g);
}
%}
%typemap(in) (vxn_image_progress_fn fn, void *userdata) {
	if ($input == Py_None) {
		$1 = NULL;
		$2 = NULL;
	} else if (PyCallable_Check($input)) {
		$1 = vxn_py_progress;
		$2 = $input;
	} else {
		PyErr_SetString(PyExc_TypeError, "progress must be callable or None");
		SWIG_fail;
	}
}
%ignore vxn_image_progress_fn;

/* The log callback is not exposed yet: Python callers read state through getters. */
%ignore vxn_ctx_set_log;
%ignore vxn_log_fn;

VXN_STATUS_FN(vxn_ctx_new)
VXN_STATUS_FN(vxn_ctx_set)

%include <vxn/common.h>
%include <vxn/error.h>
%include <vxn/context.h>
%include <vxn/version.h>
%include <vxn/image.h>

/* ---- spec, container, session ---- */
VXN_OPAQUE(vxn_spec_opts, vxn_spec_opts_free)
VXN_OPAQUE(vxn_container_opts, vxn_container_opts_free)
VXN_OPAQUE(vxn_container, vxn_container_free)
/* the session is borrowed from its container: no destructor */
typedef struct vxn_session vxn_session;
%nodefaultctor vxn_session;
%nodefaultdtor vxn_session;
struct vxn_session {};

/* argv-like inputs: a list of str, or None for NULL */
%typemap(in) const char *const *argv {
	if ($input == Py_None) {
		$1 = NULL;
	} else if (!PyList_Check($input)) {
		PyErr_SetString(PyExc_TypeError, "expected a list of str or None");
		SWIG_fail;
	} else {
		Py_ssize_t n = PyList_Size($input);
		$1 = calloc((size_t)n + 1, sizeof(char *));
		for (Py_ssize_t i = 0; i < n; i++) {
			PyObject *o = PyList_GetItem($input, i);
			if (!PyUnicode_Check(o)) {
				free((void *)$1);
				PyErr_SetString(PyExc_TypeError, "expected a list of str");
				SWIG_fail;
			}
			((const char **)$1)[i] = PyUnicode_AsUTF8(o);
		}
	}
}
%typemap(freearg) const char *const *argv {
	free((void *)$1);
}
%typemap(in, numinputs=0) int *exit_status (int tmp = 0) {
	$1 = &tmp;
}
%typemap(argout) int *exit_status {
	$result = SWIG_Python_AppendOutput($result, PyLong_FromLong(*$1));
}
/* running a container blocks for its lifetime: let other Python threads run */
%exception vxn_container_run {
	Py_BEGIN_ALLOW_THREADS
	$action
	Py_END_ALLOW_THREADS
}
%exception vxn_container_create {
	Py_BEGIN_ALLOW_THREADS
	$action
	Py_END_ALLOW_THREADS
}
/* the session's run/stdio calls belong to the container; Python uses run() */
%ignore vxn_session_new;
%ignore vxn_session_free;
%ignore vxn_session_run;
%ignore vxn_session_set_stdio;
%ignore vxn_session_set_log_fd;
%ignore vxn_session_set_ready_timeout_ms;

VXN_STATUS_FN(vxn_spec_opts_new)
VXN_STATUS_FN(vxn_spec_opts_set_entrypoint)
VXN_STATUS_FN(vxn_spec_opts_set_cmd)
VXN_STATUS_FN(vxn_spec_opts_add_env)
VXN_STATUS_FN(vxn_spec_opts_set_workdir)
VXN_STATUS_FN(vxn_spec_opts_set_user)
VXN_STATUS_FN(vxn_spec_opts_set_hostname)
VXN_STATUS_FN(vxn_spec_generate)
VXN_STATUS_FN(vxn_spec_opts_add_volume)
VXN_STATUS_FN(vxn_spec_opts_add_mount)
VXN_STATUS_FN(vxn_spec_opts_add_ulimit)
VXN_STATUS_FN(vxn_spec_opts_set_stop_signal)
%apply const char *const *argv { const char *const *options };
VXN_STATUS_FN(vxn_container_opts_new)
VXN_STATUS_FN(vxn_container_opts_set_id)
VXN_STATUS_FN(vxn_container_opts_set_kernel)
VXN_STATUS_FN(vxn_container_opts_set_backend)
VXN_STATUS_FN(vxn_container_opts_set_memory_mib)
VXN_STATUS_FN(vxn_container_opts_set_vcpus)
VXN_STATUS_FN(vxn_container_create)
VXN_STATUS_FN(vxn_container_run)
VXN_STATUS_FN(vxn_container_host_info)

%include <vxn/spec.h>
%include <vxn/session.h>
%include <vxn/container.h>

/* ---- domain ---- */
VXN_OPAQUE(vxn_domain_config, vxn_domain_config_free)
VXN_OPAQUE(vxn_domain, vxn_domain_free)
/* these block (boot, power-off waits): let other Python threads run */
%exception vxn_domain_create {
	Py_BEGIN_ALLOW_THREADS
	$action
	Py_END_ALLOW_THREADS
}
%exception vxn_domain_shutdown {
	Py_BEGIN_ALLOW_THREADS
	$action
	Py_END_ALLOW_THREADS
}
%exception vxn_domain_kill {
	Py_BEGIN_ALLOW_THREADS
	$action
	Py_END_ALLOW_THREADS
}
%exception vxn_domain_wait {
	Py_BEGIN_ALLOW_THREADS
	$action
	Py_END_ALLOW_THREADS
}
VXN_STATUS_FN(vxn_domain_config_new)
VXN_STATUS_FN(vxn_domain_config_set_name)
VXN_STATUS_FN(vxn_domain_config_set_kernel)
VXN_STATUS_FN(vxn_domain_config_add_initrd)
VXN_STATUS_FN(vxn_domain_config_set_cmdline)
VXN_STATUS_FN(vxn_domain_config_set_memory_mib)
VXN_STATUS_FN(vxn_domain_config_set_vcpus)
VXN_STATUS_FN(vxn_domain_config_add_share)
VXN_STATUS_FN(vxn_domain_config_set_log_file)
VXN_STATUS_FN(vxn_domain_config_set_backend)
VXN_STATUS_FN(vxn_domain_config_set_create_timeout_ms)
VXN_STATUS_FN(vxn_domain_create)
VXN_STATUS_FN(vxn_domain_start)
VXN_STATUS_FN(vxn_domain_pause)
VXN_STATUS_FN(vxn_domain_resume)
VXN_STATUS_FN(vxn_domain_shutdown)
VXN_STATUS_FN(vxn_domain_kill)
VXN_STATUS_FN(vxn_domain_wait)
VXN_STATUS_FN(vxn_domain_destroy)
%include <vxn/domain.h>

/* ---- boot protocol: frames as Python bytes, decoded frames as dicts ---- */
/* buffers and callbacks do not map onto Python: these wrappers take their place */
%ignore vxn_frame_encode;
%ignore vxn_frame_decoder_new;
%ignore vxn_frame_decoder_free;
%ignore vxn_frame_decoder_feed;
%ignore vxn_frame_decoder_finish;
%ignore vxn_frame_decoder_pending;
%ignore vxn_frame_decoder_stat;
%ignore vxn_frame_fn;
%ignore vxn_frame_foreign_fn;
%rename("$ignore", regextarget=1) "^vxn_frame_(encode|parse)_";
%ignore vxn_frame_get_type;
%ignore vxn_frame_get_stream;
%ignore vxn_frame_get_seq;
%ignore vxn_frame_get_flags;
%ignore vxn_frame_get_payload;
%ignore vxn_crc32c;
%include <vxn/boot.h>

%{
/* A frame as a dict: type, name, stream, seq, flags, payload, plus the
 * fields of its typed payload when it parses (doc/guest-protocol.md §9). */
static PyObject *py_frame_dict(const vxn_frame *f)
{
	size_t n = 0;
	const void *p = vxn_frame_get_payload(f, &n);
	unsigned t = vxn_frame_get_type(f);
	PyObject *d = Py_BuildValue("{s:I,s:s,s:k,s:k,s:k,s:y#}", "type", t, "name",
				    vxn_frame_type_name(t), "stream",
				    (unsigned long)vxn_frame_get_stream(f), "seq",
				    (unsigned long)vxn_frame_get_seq(f), "flags",
				    (unsigned long)vxn_frame_get_flags(f), "payload", p,
				    (Py_ssize_t)n);
	if (!d)
		return NULL;
	PyObject *extra = NULL;
	const char *s = NULL;
	size_t sl = 0;
	uint16_t u1 = 0, u2 = 0;
	int i1 = 0, i2 = 0;
	uint32_t w = 0;
	vxn_log_level lvl;
	vxn_log_source src;
	vxn_boot_stage stage;
	switch (t) {
	case VXN_FRAME_READY:
		if (vxn_frame_parse_ready(f, &u1, &s, &sl) == 0)
			extra = Py_BuildValue("{s:H,s:s#}", "version", u1, "info", s, (Py_ssize_t)sl);
		break;
	case VXN_FRAME_START:
		if (vxn_frame_parse_start(f, &u1) == 0)
			extra = Py_BuildValue("{s:H}", "version", u1);
		break;
	case VXN_FRAME_LOG:
		if (vxn_frame_parse_log(f, &lvl, &src, &s, &sl) == 0)
			extra = Py_BuildValue("{s:i,s:i,s:s#}", "level", (int)lvl, "source", (int)src,
					      "text", s, (Py_ssize_t)sl);
		break;
	case VXN_FRAME_STDIN_CREDIT:
		if (vxn_frame_parse_credit(f, &w) == 0)
			extra = Py_BuildValue("{s:k}", "bytes", (unsigned long)w);
		break;
	case VXN_FRAME_RESIZE:
		if (vxn_frame_parse_resize(f, &u1, &u2) == 0)
			extra = Py_BuildValue("{s:H,s:H}", "rows", u1, "cols", u2);
		break;
	case VXN_FRAME_SIGNAL:
		if (vxn_frame_parse_signal(f, &i1) == 0)
			extra = Py_BuildValue("{s:i}", "signo", i1);
		break;
	case VXN_FRAME_EXIT:
		if (vxn_frame_parse_exit(f, &i1, &i2, &w) == 0)
			extra = Py_BuildValue("{s:i,s:i,s:k}", "exit_code", i1, "signo", i2,
					      "exit_flags", (unsigned long)w);
		break;
	case VXN_FRAME_ERROR:
		if (vxn_frame_parse_error(f, &stage, &i1, &s, &sl) == 0)
			extra = Py_BuildValue("{s:i,s:i,s:s#}", "stage", (int)stage, "errnum", i1,
					      "message", s, (Py_ssize_t)sl);
		break;
	default:
		break;
	}
	if (extra) {
		PyDict_Update(d, extra);
		Py_DECREF(extra);
	}
	PyErr_Clear(); /* a payload that is not valid UTF-8 just has no typed fields */
	return d;
}

struct py_decoder {
	vxn_frame_decoder *dec;
	PyObject *events; /* list being filled during one feed()/finish() */
};

static void py_on_frame(void *userdata, const vxn_frame *f)
{
	struct py_decoder *pd = userdata;
	PyObject *d = py_frame_dict(f);
	if (d) {
		PyList_Append(pd->events, d);
		Py_DECREF(d);
	}
}

static void py_on_foreign(void *userdata, const void *bytes, size_t size)
{
	struct py_decoder *pd = userdata;
	PyObject *b = PyBytes_FromStringAndSize(bytes, (Py_ssize_t)size);
	if (b) {
		PyList_Append(pd->events, b);
		Py_DECREF(b);
	}
}
%}

%typemap(in) (const void *data, size_t size) (Py_buffer view) {
	if (PyObject_GetBuffer($input, &view, PyBUF_SIMPLE) < 0)
		SWIG_fail;
	$1 = view.buf;
	$2 = (size_t)view.len;
}
%typemap(freearg) (const void *data, size_t size) {
	PyBuffer_Release(&view$argnum);
}

%inline %{
/* CRC32C as the protocol uses it (vxn_crc32c()). */
uint32_t crc32c(const void *data, size_t size, uint32_t crc)
{
	return vxn_crc32c(crc, data, size);
}
%}

%inline %{
/* Encode one frame: the bytes (vxn_frame_encode()); ValueError when it cannot be. */
PyObject *frame_encode(unsigned type, uint32_t stream, uint32_t seq, const void *data,
		       size_t size)
{
	size_t cap = VXN_FRAME_SIZE(size);
	void *buf = malloc(cap);
	if (!buf)
		return PyErr_NoMemory();
	int n = vxn_frame_encode(buf, cap, type, stream, seq, data, size);
	PyObject *r = n > 0 ? PyBytes_FromStringAndSize(buf, n) : NULL;
	if (n <= 0)
		PyErr_SetString(PyExc_ValueError, "cannot encode this frame");
	free(buf);
	return r;
}

/* The frames a host sends, typed (the guest's are decoded by FrameDecoder). */
#define PY_ENCODE(call)                                                   \
	do {                                                              \
		unsigned char b[VXN_FRAME_SIZE(64)];                      \
		int n = call;                                             \
		if (n <= 0) {                                             \
			PyErr_SetString(PyExc_ValueError, "bad frame fields"); \
			return NULL;                                      \
		}                                                         \
		return PyBytes_FromStringAndSize((char *)b, n);           \
	} while (0)
PyObject *frame_encode_start(uint32_t seq, uint16_t version)
{
	PY_ENCODE(vxn_frame_encode_start(b, sizeof(b), seq, version));
}
PyObject *frame_encode_resize(uint32_t stream, uint32_t seq, uint16_t rows, uint16_t cols)
{
	PY_ENCODE(vxn_frame_encode_resize(b, sizeof(b), stream, seq, rows, cols));
}
PyObject *frame_encode_signal(uint32_t stream, uint32_t seq, int signo)
{
	PY_ENCODE(vxn_frame_encode_signal(b, sizeof(b), stream, seq, signo));
}

typedef struct FrameDecoder {
	struct py_decoder pd;
} FrameDecoder;
%}

%extend FrameDecoder {
	FrameDecoder() {
		FrameDecoder *d = calloc(1, sizeof(*d));
		if (d && vxn_frame_decoder_new(&d->pd.dec, py_on_frame, py_on_foreign, &d->pd) < 0) {
			free(d);
			d = NULL;
		}
		if (!d)
			PyErr_NoMemory();
		return d;
	}
	~FrameDecoder() {
		vxn_frame_decoder_free($self->pd.dec);
		free($self);
	}
	/* Feed bytes: the frames (dicts) and foreign runs (bytes) they complete, in order. */
	PyObject *feed(const void *data, size_t size) {
		PyObject *l = PyList_New(0);
		$self->pd.events = l;
		if (l)
			vxn_frame_decoder_feed($self->pd.dec, data, size);
		$self->pd.events = NULL;
		return l;
	}
	/* End of stream: what the held bytes turn out to be. */
	PyObject *finish() {
		PyObject *l = PyList_New(0);
		$self->pd.events = l;
		if (l)
			vxn_frame_decoder_finish($self->pd.dec);
		$self->pd.events = NULL;
		return l;
	}
	size_t pending() {
		return vxn_frame_decoder_pending($self->pd.dec);
	}
	unsigned long long stat(int which) {
		return vxn_frame_decoder_stat($self->pd.dec, (vxn_frame_stat)which);
	}
}
