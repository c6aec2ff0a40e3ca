/*
 * style.c — the one stylesheet, served at /static/portail.css (the CSP
 * allows no inline style). Phone first: 16 px text in inputs (no zoom on
 * focus), 44 px targets, no zoom lock; colours that pass WCAG AA (text
 * #1b1b1b, links and buttons #0a4f94 on white: 8.6:1; errors #a4001d: 7.9:1).
 */
#include "web.h"

const char web_css[] =
    "*{box-sizing:border-box}\n"
    "html{font-family:system-ui,-apple-system,\"Segoe UI\",Roboto,sans-serif;font-size:100%;"
    "color:#1b1b1b;background:#f3f5f8}\n"
    "body{margin:0;line-height:1.5}\n"
    "header{background:#0a4f94;color:#fff;padding:.5rem 1rem;display:flex;flex-wrap:wrap;"
    "align-items:center;justify-content:space-between;gap:.5rem}\n"
    "header .brand{margin:0;font-size:1.25rem;font-weight:700}\n"
    "header .lang{color:#fff;display:inline-flex;align-items:center;min-height:44px;"
    "padding:0 .75rem;border:1px solid #fff;border-radius:4px;text-decoration:none}\n"
    /* the step's Enter button (page_begin): button's display must not undo hidden */
    "[hidden]{display:none!important}\n"
    "header button.lang{background:transparent;font-size:1rem;font-family:inherit;cursor:pointer}\n"
    "main{max-width:30rem;margin:0 auto;padding:1rem;background:#fff;min-height:calc(100vh - 60px)}\n"
    "h1{font-size:1.5rem;margin:.5rem 0 1rem}\n"
    "h2{font-size:1.1rem;margin:1.25rem 0 .5rem}\n"
    ".lead{font-weight:600}\n"
    ".field{margin:0 0 1rem}\n"
    "label{display:block;font-weight:600;margin-bottom:.25rem}\n"
    "input{display:block;width:100%;font-size:1rem;font-family:inherit;min-height:44px;padding:.5rem .75rem;"
    "border:1px solid #5a6472;border-radius:4px;background:#fff;color:#1b1b1b}\n"
    "input[readonly]{background:#eef1f5}\n"
    "input:focus,button:focus,a:focus{outline:3px solid #f2a900;outline-offset:2px}\n"
    "input[aria-invalid=true]{border:2px solid #a4001d}\n"
    ".hint{margin:0 0 .25rem;font-size:.9rem;color:#3d4650}\n"
    ".error{margin:.25rem 0 0;color:#a4001d;font-weight:600}\n"
    ".alert{border-left:6px solid #a4001d;background:#fdf0f2;color:#1b1b1b;padding:.5rem .75rem;"
    "margin:0 0 1rem}\n"
    ".alert p{margin:0}\n"
    ".notice{border-left:6px solid #0a6b2e;background:#eef8f1;padding:.5rem .75rem;margin:0 0 1rem}\n"
    ".actions{display:flex;flex-wrap:wrap;gap:.5rem;margin:1rem 0}\n"
    "button,.button{display:inline-flex;align-items:center;justify-content:center;min-height:44px;"
    "min-width:44px;padding:.5rem 1rem;font-size:1rem;font-family:inherit;border-radius:4px;"
    "cursor:pointer;text-decoration:none;border:2px solid #0a4f94}\n"
    ".primary{background:#0a4f94;color:#fff}\n"
    ".secondary{background:#fff;color:#0a4f94}\n"
    "a{color:#0a4f94}\n"
    "a.small{display:inline-flex;align-items:center;min-height:44px}\n"
    ".signup a{display:inline-flex;align-items:center;min-height:44px}\n"
    ".providers{list-style:none;padding:0;margin:0;display:grid;grid-template-columns:1fr 1fr;gap:.5rem}\n"
    ".providers .button{width:100%;background:#fff;color:#1b1b1b;border:1px solid #5a6472}\n"
    ".or{text-align:center;font-weight:700;margin:1rem 0 0}\n"
    /* /compte: the lists of children, links and devices; the app password shown once */
    ".links,.devices{list-style:none;padding:0;margin:0}\n"
    ".devices li{border-top:1px solid #d5dae1;padding:.5rem 0 0}\n"
    ".device{margin:0}\n"
    ".token code{display:block;font-size:1.1rem;padding:.75rem;background:#eef1f5;"
    "border:1px solid #5a6472;border-radius:4px;word-break:break-all;user-select:all}\n";
