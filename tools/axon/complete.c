/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `axon completion bash`: a bash completion script generated from the
 * verb table and the global options, so completion knows every verb and
 * option the parser does and nothing else. The table comes in through
 * c->verbs at run time; this file does not link to the table's.
 *
 * The script is three generated functions and a fixed one:
 *   _axon_verbs PATH   the verbs under PATH ("" is the top level)
 *   _axon_spec PATH    a verb's options, those of them that take a value,
 *                      and what its positional arguments complete to
 *   _axon_value PATH OPTION   what an option's value completes to
 *   _axon              walks the words before the cursor to the verb, then
 *                      completes an option's value, an option, a verb or
 *                      a positional argument
 * Live topics, nodes and types come from `axon topic|node|type list --json`
 * run at TAB time (at most 1 s; the --domain and --config of
 * the line are passed on). Names with a '"' or '\' in them are not
 * offered: cutting them out of the JSON would need a JSON parser in bash.
 */
#include <stdlib.h>
#include <string.h>

#include "axon/version.h"
#include "cli.h"

/* @s single-quoted for bash. */
static void sq(FILE *f, const char *s)
{
    fputc('\'', f);
    for (; *s; s++) {
        if (*s == '\'')
            fputs("'\\''", f);
        else
            fputc(*s, f);
    }
    fputc('\'', f);
}

static const char *name_of(const struct cli_verb *v)
{
    const char *sp = strrchr(v->path, ' ');
    return sp ? sp + 1 : v->path;
}

/* " --name -n" for every option of @o (only those with a value when
 * @values), into @buf. */
static void opt_words(char *buf, size_t size, const struct cli_opt *o, bool values)
{
    for (; o && o->name; o++) {
        if (values && !o->arg)
            continue;
        size_t n = strlen(buf);
        snprintf(buf + n, size - n, "%s--%s", n ? " " : "", o->name);
        if (o->short_name) {
            n = strlen(buf);
            snprintf(buf + n, size - n, " -%c", o->short_name);
        }
    }
}

static void emit_verbs(FILE *f, const char *path, const struct cli_verb *set)
{
    fputs("    ", f);
    sq(f, path);
    fputs(") echo '", f);
    for (const struct cli_verb *v = set; v->path; v++)
        fprintf(f, "%s%s", v == set ? "" : " ", name_of(v));
    fputs("' ;;\n", f);
    for (const struct cli_verb *v = set; v->path; v++)
        if (v->subs)
            emit_verbs(f, v->path, v->subs);
}

static void emit_spec(FILE *f, const struct cli_verb *set)
{
    for (const struct cli_verb *v = set; v->path; v++) {
        if (v->subs) {
            emit_spec(f, v->subs);
            continue;
        }
        char opts[2048] = "", vals[1024] = "";
        opt_words(opts, sizeof opts, v->opts, false);
        opt_words(opts, sizeof opts, cli_global_opts, false);
        opt_words(vals, sizeof vals, v->opts, true);
        opt_words(vals, sizeof vals, cli_global_opts, true);
        fputs("    ", f);
        sq(f, v->path);
        fputs(") opts=", f);
        sq(f, opts);
        fputs(" vals=", f);
        sq(f, vals);
        fputs(" pos=", f);
        sq(f, v->complete ? v->complete : "");
        fputs(" ;;\n", f);
    }
}

/* One case per option with a value that completes to something; @path
 * NULL: the global options, for any verb. */
static void emit_values_of(FILE *f, const char *path, const struct cli_opt *o)
{
    for (; o && o->name; o++) {
        if (!o->arg || !o->complete)
            continue;
        char names[2][64];
        int n = 0;
        snprintf(names[n++], sizeof names[0], "--%s", o->name);
        if (o->short_name)
            snprintf(names[n++], sizeof names[0], "-%c", o->short_name);
        fputs("    ", f);
        for (int k = 0; k < n; k++) {
            if (k)
                fputs(" | ", f);
            if (path) {
                char pat[192];
                snprintf(pat, sizeof pat, "%s:%s", path, names[k]);
                sq(f, pat);
            } else {
                fprintf(f, "*:%s", names[k]);
            }
        }
        fputs(") echo ", f);
        sq(f, o->complete);
        fputs(" ;;\n", f);
    }
}

static void emit_values(FILE *f, const struct cli_verb *set)
{
    for (const struct cli_verb *v = set; v->path; v++) {
        if (v->subs)
            emit_values(f, v->subs);
        else
            emit_values_of(f, v->path, v->opts);
    }
}

/* The part that does not depend on the table. */
static const char script_main[] =
    "# _axon_live topic|node|type: the names `axon topic|node|type list --json`\n"
    "# shows, with the --domain and --config of the line.\n"
    "_axon_live()\n"
    "{\n"
    "    local out\n"
    "    out=$(\"$_axon_cmd\" \"$1\" list --json --wait 1 \"${_axon_fwd[@]}\" 2>/dev/null) ||\n"
    "        return 0\n"
    "    if [[ $1 == topic ]]; then\n"
    "        printf '%s\\n' \"$out\" | grep -o '\"topic\":\"[^\"\\]*\"' | cut -d'\"' -f4\n"
    "    else\n"
    "        printf '%s\\n' \"$out\" | grep -o '\"name\":\"[^\"\\]*\"' | cut -d'\"' -f4\n"
    "    fi\n"
    "}\n"
    "\n"
    "# _axon_kind KIND CUR: COMPREPLY for a word of that kind: topic, node, type,\n"
    "# mcap, file, verb (the next word of a verb's path), =a|b (these words).\n"
    "_axon_kind()\n"
    "{\n"
    "    local cur=$2 w p=\n"
    "    case $1 in\n"
    "    topic | node | type)\n"
    "        mapfile -t COMPREPLY < <(compgen -W \"$(_axon_live \"$1\")\" -- \"$cur\") ;;\n"
    "    mcap)\n"
    "        compopt -o filenames 2>/dev/null\n"
    "        mapfile -t COMPREPLY < <(compgen -d -- \"$cur\"; compgen -f -X '!*.mcap' -- \"$cur\") "
    ";;\n"
    "    file)\n"
    "        compopt -o filenames 2>/dev/null\n"
    "        mapfile -t COMPREPLY < <(compgen -f -- \"$cur\") ;;\n"
    "    verb)\n"
    "        for w in \"${_axon_pos[@]}\"; do\n"
    "            [[ -n $w && \" $(_axon_verbs \"$p\") \" == *\" $w \"* ]] || return 0\n"
    "            p=${p:+$p }$w\n"
    "        done\n"
    "        mapfile -t COMPREPLY < <(compgen -W \"$(_axon_verbs \"$p\")\" -- \"$cur\") ;;\n"
    "    =*)\n"
    "        w=${1#=}\n"
    "        mapfile -t COMPREPLY < <(compgen -W \"${w//|/ }\" -- \"$cur\") ;;\n"
    "    esac\n"
    "}\n"
    "\n"
    "_axon()\n"
    "{\n"
    "    local cur=${COMP_WORDS[COMP_CWORD]} prev= path= i=1 w opt= pre= skip= kind\n"
    "    local opts= vals= pos= _axon_cmd=${COMP_WORDS[0]}\n"
    "    local -a _axon_fwd=() _axon_pos=() kinds=()\n"
    "    COMPREPLY=()\n"
    "    ((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD - 1]}\n"
    "    [[ $_axon_cmd == \"~/\"* ]] && _axon_cmd=$HOME/${_axon_cmd#\"~/\"}\n"
    "    # The verb: the leading words that name one.\n"
    "    while ((i < COMP_CWORD)); do\n"
    "        w=${COMP_WORDS[i]}\n"
    "        [[ -n $w && \" $(_axon_verbs \"$path\") \" == *\" $w \"* ]] || break\n"
    "        path=${path:+$path }$w\n"
    "        ((i++))\n"
    "    done\n"
    "    _axon_spec \"$path\"\n"
    "    # Then its arguments up to the cursor: positional ones, options, the\n"
    "    # values of options (--opt V, --opt=V, or --opt = V as readline splits\n"
    "    # it), and the --domain and --config to pass on.\n"
    "    for ((; i < COMP_CWORD; i++)); do\n"
    "        w=${COMP_WORDS[i]}\n"
    "        if [[ -n $skip ]]; then\n"
    "            [[ $w == = ]] && continue\n"
    "            [[ $skip == --domain || $skip == --config ]] && _axon_fwd+=(\"$skip\" \"$w\")\n"
    "            skip=\n"
    "        elif [[ $w == --domain=* || $w == --config=* ]]; then\n"
    "            _axon_fwd+=(\"$w\")\n"
    "        elif [[ $w == -?* && $w != -[0-9.]* ]]; then\n"
    "            [[ \" $vals \" == *\" $w \"* ]] && skip=$w\n"
    "        else\n"
    "            _axon_pos+=(\"$w\")\n"
    "        fi\n"
    "    done\n"
    "    if [[ -n $skip ]]; then\n"
    "        opt=$skip\n"
    "        [[ $cur == = ]] && cur=\n"
    "    elif [[ $cur == --*=* ]]; then\n"
    "        opt=${cur%%=*} pre=${cur%%=*}= cur=${cur#*=}\n"
    "        [[ \" $vals \" == *\" $opt \"* ]] || return 0\n"
    "    fi\n"
    "    if [[ -n $opt ]]; then\n"
    "        _axon_kind \"$(_axon_value \"$path\" \"$opt\")\" \"$cur\"\n"
    "        [[ -n $pre ]] && COMPREPLY=(\"${COMPREPLY[@]/#/$pre}\")\n"
    "        return 0\n"
    "    fi\n"
    "    if [[ $cur == -* ]]; then\n"
    "        mapfile -t COMPREPLY < <(compgen -W \"$opts\" -- \"$cur\")\n"
    "        return 0\n"
    "    fi\n"
    "    w=$(_axon_verbs \"$path\")\n"
    "    if [[ -n $w ]]; then\n"
    "        mapfile -t COMPREPLY < <(compgen -W \"$w\" -- \"$cur\")\n"
    "        return 0\n"
    "    fi\n"
    "    read -ra kinds <<<\"$pos\"\n"
    "    if ((${#_axon_pos[@]} < ${#kinds[@]})); then\n"
    "        kind=${kinds[${#_axon_pos[@]}]}\n"
    "    elif ((${#kinds[@]} > 0)) && [[ ${kinds[-1]} == *... ]]; then\n"
    "        kind=${kinds[-1]}\n"
    "    else\n"
    "        return 0\n"
    "    fi\n"
    "    _axon_kind \"${kind%...}\" \"$cur\"\n"
    "}\n"
    "\n"
    "complete -F _axon axon\n";

static void bash_script(FILE *f, const struct cli_verb *verbs)
{
    char root[128] = "--help -h --version";
    fprintf(f,
            "# bash completion for axon %s, generated by `axon completion bash` from its\n"
            "# verb table: regenerate it rather than edit it. Load it with\n"
            "#   source <(axon completion bash)\n"
            "# or install it for every shell:\n"
            "#   axon completion bash > ~/.local/share/bash-completion/completions/axon\n"
            "# Needs bash 4.3 or later.\n"
            "\n"
            "# _axon_verbs PATH: the verbs under PATH.\n"
            "_axon_verbs()\n"
            "{\n"
            "    case $1 in\n",
            ax_version());
    emit_verbs(f, "", verbs);
    fputs("    esac\n"
          "}\n"
          "\n"
          "# _axon_spec PATH: the verb's options (opts), those that take a value\n"
          "# (vals), what its positional arguments complete to (pos).\n"
          "_axon_spec()\n"
          "{\n"
          "    case $1 in\n"
          "    '') opts=",
          f);
    sq(f, root);
    fputs(" vals= pos= ;;\n", f);
    emit_spec(f, verbs);
    fputs("    *) opts='--help -h' vals= pos= ;;\n"
          "    esac\n"
          "}\n"
          "\n"
          "# _axon_value PATH OPTION: what the option's value completes to.\n"
          "_axon_value()\n"
          "{\n"
          "    case \"$1:$2\" in\n",
          f);
    emit_values(f, verbs);
    emit_values_of(f, NULL, cli_global_opts);
    fputs("    esac\n"
          "}\n"
          "\n",
          f);
    fputs(script_main, f);
}

int cli_verb_completion(struct cli *c, const struct cli_args *a)
{
    if (strcmp(a->pos[0], "bash") != 0)
        return cli_usage_error(a->verb, "%s: only bash completion is generated", a->pos[0]);
    if (c->json)
        return cli_usage_error(a->verb, "--json: the script is bash only");
    bash_script(stdout, c->verbs);
    return CLI_EXIT_OK;
}
