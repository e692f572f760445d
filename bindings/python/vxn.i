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
VXN_STATUS_FN(vxn_container_opts_new)
VXN_STATUS_FN(vxn_container_opts_set_id)
VXN_STATUS_FN(vxn_container_opts_set_kernel)
VXN_STATUS_FN(vxn_container_opts_set_backend)
VXN_STATUS_FN(vxn_container_opts_set_memory_mib)
VXN_STATUS_FN(vxn_container_opts_set_vcpus)
VXN_STATUS_FN(vxn_container_create)
VXN_STATUS_FN(vxn_container_run)

%include <vxn/spec.h>
%include <vxn/session.h>
%include <vxn/container.h>
