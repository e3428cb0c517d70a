% for field in fields:
%   if not field.writable:
%     continue
%   end
%   name, label, invalid = field.name, field.label, field.name in errors
<div class="field{{' invalid' if invalid else ''}}">
  <label for="{{name}}">{{label}}</label>
%   if field.kind == "integer" and field.high - field.low < 10:
%     choices = [str(n) for n in range(field.high, field.low - 1, -1)]
  <select id="{{name}}" name="{{name}}" required{{!' aria-invalid="true" aria-describedby="%s-error"' % name if invalid else ''}}>
%#  a required select's first option is the empty one (HTML's rule), chosen until one is
    <option value=""{{!'' if str(form.get(name, '')) in choices else ' selected'}}>Choose {{field.low}} to {{field.high}}</option>
%     for choice in choices:
    <option value="{{choice}}"{{!' selected' if str(form.get(name, '')) == choice else ''}}>{{choice}}</option>
%     end
  </select>
%   elif field.kind == "integer":
  <input id="{{name}}" name="{{name}}" value="{{form.get(name, '')}}" required inputmode="numeric" pattern="[0-9]+" autocomplete="off"{{!' aria-invalid="true" aria-describedby="%s-error"' % name if invalid else ''}}>
%   else:
  <input id="{{name}}" name="{{name}}" value="{{form.get(name, '')}}" required maxlength="{{field.high}}" autocomplete="off"{{!' aria-invalid="true" aria-describedby="%s-error"' % name if invalid else ''}}>
%   end
%   if invalid:
  <p class="error" id="{{name}}-error">{{label}} {{errors[name]}}.</p>
%   end
</div>
% end
% for name in sorted(set(errors) - {field.name for field in fields if field.writable}):
<p class="error">{{name}} {{errors[name]}}.</p>
% end
