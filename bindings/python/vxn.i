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

/* The log callback is not exposed yet: Python callers read state through getters. */
%ignore vxn_ctx_set_log;
%ignore vxn_log_fn;

VXN_STATUS_FN(vxn_ctx_new)
VXN_STATUS_FN(vxn_ctx_set)

%include <vxn/common.h>
%include <vxn/error.h>
%include <vxn/context.h>
%include <vxn/version.h>
