% for name, label in (("artist", "Artist"), ("title", "Title")):
<div class="field{{' invalid' if name in errors else ''}}">
  <label for="{{name}}">{{label}}</label>
  <input id="{{name}}" name="{{name}}" value="{{form.get(name, '')}}" required maxlength="500" autocomplete="off"{{!' aria-invalid="true" aria-describedby="%s-error"' % name if name in errors else ''}}>
%   if name in errors:
  <p class="error" id="{{name}}-error">{{label}} {{errors[name]}}.</p>
%   end
</div>
% end
<div class="field{{' invalid' if 'rating' in errors else ''}}">
  <label for="rating">Rating</label>
  <select id="rating" name="rating" required{{!' aria-invalid="true" aria-describedby="rating-error"' if 'rating' in errors else ''}}>
%# a required select's first option is the empty one (HTML's rule), chosen until a rating is
    <option value=""{{!'' if str(form.get('rating', '')) in ('1', '2', '3', '4', '5') else ' selected'}}>Choose 1 to 5</option>
% for rating in (5, 4, 3, 2, 1):
    <option value="{{rating}}"{{!' selected' if str(form.get('rating', '')) == str(rating) else ''}}>{{rating}}</option>
% end
  </select>
% if 'rating' in errors:
  <p class="error" id="rating-error">Rating {{errors['rating']}}.</p>
% end
</div>
% for name in sorted(set(errors) - {"artist", "title", "rating"}):
<p class="error">{{name}} {{errors[name]}}.</p>
% end
